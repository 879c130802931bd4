"""Seconds per cell for nbclient executing a notebook's code cells.

Usage: python3 nbclient_cells.py NOTEBOOK KERNEL_NAME ROUNDS

Starts the kernel once (not timed), executes every code cell of NOTEBOOK
once to warm up, then ROUNDS more times, and prints the mean wall time per
cell execution as JSON: {"seconds_per_cell": ...}. The reference for
bench/runner's BenchmarkOverheadVsNbclient (Debian's python3-nbclient).
"""
import json
import sys
import time

import nbformat
from nbclient import NotebookClient


def main():
    path, kernel, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=120, allow_errors=False)
    cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    with client.setup_kernel():
        for i in cells:
            client.execute_cell(nb.cells[i], i)
        start = time.perf_counter()
        for _ in range(rounds):
            for i in cells:
                client.execute_cell(nb.cells[i], i)
        elapsed = time.perf_counter() - start
    print(json.dumps({"seconds_per_cell": elapsed / (rounds * len(cells))}))


if __name__ == "__main__":
    main()
