// Package browser is the course's browser test: notebook.mjs opens the
// student notebook in classic Jupyter Notebook on 127.0.0.1, in headless
// Chromium driven by playwright-core, picks the Go kernel, runs all cells,
// checks that their outputs appear and saves a screenshot in out/. The Go
// test runs it when everything it needs is installed:
//
//	npm ci --prefix tests/browser     # playwright-core, pinned in package-lock.json
//	scripts/install-kernel.sh          # the ppml-go kernel
//	go test ./tests/browser            # Debian: jupyter-notebook, chromium
package browser
