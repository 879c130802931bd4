"""Runs Go cells on a kernel with jupyter_client and prints one JSON result per cell.

    JUPYTER_PATH=... python3 run_cells.py KERNEL_NAME TIMEOUT_SECONDS < cells.json

cells.json is a JSON list of cell sources. Each result line is {"status", "stdout", "stderr",
"error"}; a reply that does not come within the timeout is reported as status "timeout".
"""

import json
import queue
import sys

from jupyter_client.manager import start_new_kernel


def run(kc, code, timeout):
    msg_id = kc.execute(code)
    out = {"status": "timeout", "stdout": "", "stderr": "", "error": ""}
    try:
        while True:
            msg = kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["error"] = content["ename"] + ": " + content["evalue"]
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            reply = kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                out["status"] = reply["content"]["status"]
                break
    except queue.Empty:
        pass
    return out


def main():
    name, timeout = sys.argv[1], float(sys.argv[2])
    cells = json.load(sys.stdin)
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=timeout)
    try:
        for code in cells:
            print(json.dumps(run(kc, code, timeout)), flush=True)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    main()
