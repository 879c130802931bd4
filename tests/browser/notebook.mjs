// notebook.mjs: open the course's student notebook in classic Jupyter
// Notebook, pick the Go kernel, run all cells and check that their outputs
// appear, in headless Chromium driven by playwright-core. Saves a
// screenshot of the whole notebook (and the executed notebook) in OUT_DIR.
//
//   node notebook.mjs [NOTEBOOK]     (default ../../notebooks/ppml-course.ipynb)
//
// Environment: JUPYTER_PATH must let Jupyter find the ppml-go kernelspec
// (scripts/install-kernel.sh); OUT_DIR (default ./out); CHROMIUM (default
// /usr/bin/chromium); JUPYTER_NOTEBOOK (default jupyter-notebook);
// RUN_TIMEOUT_MS (default 600000). Exits non-zero, saying why, on failure.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const notebookPath = path.resolve(process.argv[2] ?? path.join(here, '../../notebooks/ppml-course.ipynb'));
const outDir = path.resolve(process.env.OUT_DIR ?? path.join(here, 'out'));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const runTimeout = Number(process.env.RUN_TIMEOUT_MS ?? 600000);
const kernelName = 'ppml-go';

function log(...args) { console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...args); }

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function waitForServer(url, proc, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`jupyter-notebook exited with status ${proc.exitCode}`);
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`jupyter-notebook did not answer ${url} within ${ms / 1000}s`);
}

// stop ends a child process and its process group, and waits for it.
async function stop(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise(r => proc.once('exit', r));
  try { process.kill(-proc.pid, 'SIGTERM'); } catch { proc.kill('SIGTERM'); }
  const t = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
  await exited;
  clearTimeout(t);
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  // Jupyter works on a copy in a fresh directory, with fresh config and
  // runtime directories: nothing of the user's Jupyter setup is used or
  // changed, and saving does not touch the repository.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ppml-browser-'));
  const nbDir = path.join(work, 'nb');
  fs.mkdirSync(nbDir);
  const nbName = path.basename(notebookPath);
  fs.copyFileSync(notebookPath, path.join(nbDir, nbName));
  const token = randomBytes(16).toString('hex');
  const port = await freePort();
  const env = {
    ...process.env,
    JUPYTER_CONFIG_DIR: path.join(work, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(work, 'runtime'),
    IPYTHONDIR: path.join(work, 'ipython'),
  };
  const jupyterLog = fs.createWriteStream(path.join(outDir, 'jupyter.log'));
  const jupyter = spawn(process.env.JUPYTER_NOTEBOOK ?? 'jupyter-notebook', [
    '--no-browser', '--ip=127.0.0.1', `--port=${port}`, '--port-retries=0',
    `--NotebookApp.token=${token}`, `--notebook-dir=${nbDir}`,
    '--NotebookApp.open_browser=False', '--MappingKernelManager.cull_idle_timeout=0',
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []), // CI containers run as root
  ], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  jupyter.stdout.pipe(jupyterLog);
  jupyter.stderr.pipe(jupyterLog);
  let browser;
  const userDataDir = path.join(work, 'chromium');
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitForServer(`${base}/api/kernelspecs?token=${token}`, jupyter, 60000);
    const specs = await (await fetch(`${base}/api/kernelspecs?token=${token}`)).json();
    if (!specs.kernelspecs[kernelName]) {
      throw new Error(`Jupyter does not know kernel ${kernelName} (has: ${Object.keys(specs.kernelspecs).join(', ')}); ` +
        'install it with scripts/install-kernel.sh and set JUPYTER_PATH');
    }
    log(`jupyter-notebook on ${base}`);

    // A fresh profile (--user-data-dir) every run: playwright passes it.
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    const page = browser.pages()[0] ?? await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', e => pageErrors.push(String(e)));
    await page.goto(`${base}/notebooks/${encodeURIComponent(nbName)}?token=${token}`);
    await page.waitForFunction(() => window.Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 120000 });
    log('notebook open, kernel', await page.evaluate(() => Jupyter.notebook.kernel.name));

    // Pick the Go kernel from the Kernel menu, as a student would.
    await page.click('#kernellink');
    await page.hover('#menu-change-kernel');
    await page.click(`#kernel-submenu-${kernelName}`);
    await page.waitForFunction(name => Jupyter.notebook.kernel?.name === name && Jupyter.notebook.kernel.is_connected()
      && document.querySelector('#kernel_indicator_icon')?.classList.contains('kernel_idle_icon'), kernelName, { timeout: 120000 });
    log('kernel picked:', await page.evaluate(() => Jupyter.notebook.kernel_selector.current_selection));

    // Run all cells (Cell > Run All).
    const started = Date.now();
    await page.click('#celllink');
    await page.click('#run_all_cells');
    await page.waitForFunction(() => {
      const cells = Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code');
      return cells.every(c => typeof c.input_prompt_number === 'number')
        && Jupyter.notebook.kernel_busy === false
        && document.querySelector('#kernel_indicator_icon')?.classList.contains('kernel_idle_icon');
    }, null, { timeout: runTimeout, polling: 1000 });
    log(`all cells ran in ${((Date.now() - started) / 1000).toFixed(1)}s`);

    // What the page shows for each code cell.
    const cells = await page.evaluate(() => Jupyter.notebook.get_cells().filter(c => c.cell_type === 'code').map(c => {
      const out = c.element[0].querySelector('.output');
      return {
        id: c.metadata?.nbgrader?.grade_id ?? '',
        test: !!c.metadata?.nbgrader?.grade,
        count: c.input_prompt_number,
        text: out?.innerText ?? '',
        svgs: out ? out.querySelectorAll('svg').length : 0,
        errors: out ? out.querySelectorAll('.output_error').length : 0,
        // A GoNB cell without a "%%" line only declares: no output expected.
        declarations: !/^\s*%%/m.test(c.get_text()),
      };
    }));
    const problems = [];
    for (const c of cells) {
      const stmt = c.declarations; // declarations only: no output expected
      if (c.test) {
        if (!c.text.includes('not implemented yet')) problems.push(`test cell ${c.id} does not say "not implemented yet": ${c.text.slice(0, 200)}`);
      } else if (c.errors > 0) {
        problems.push(`cell ${c.id} shows an error: ${c.text.slice(0, 300)}`);
      } else if (!stmt && c.text.trim() === '' && c.svgs === 0) {
        problems.push(`cell ${c.id} shows no output`);
      }
    }
    const pictures = cells.reduce((n, c) => n + c.svgs, 0);
    if (pictures < 15) problems.push(`only ${pictures} SVG pictures on the page`);
    log(`${cells.length} code cells, ${cells.filter(c => c.text.trim() || c.svgs).length} with output, ${pictures} SVG pictures`);

    await page.evaluate(() => Jupyter.notebook.save_notebook());
    await page.waitForTimeout(1000);
    // The classic notebook scrolls inside #site: let the page grow to its
    // content so that the screenshot shows the whole notebook.
    await page.addStyleTag({ content: 'html, body, #site { height: auto !important; overflow: visible !important; }' });
    await page.screenshot({ path: path.join(outDir, 'notebook.png'), fullPage: true });
    fs.copyFileSync(path.join(nbDir, nbName), path.join(outDir, nbName.replace(/\.ipynb$/, '.executed.ipynb')));
    log(`screenshot ${path.join(outDir, 'notebook.png')}`);
    if (pageErrors.length) log('page errors (not fatal):', pageErrors.join('; '));
    if (problems.length) throw new Error(problems.join('\n'));
    log('ok');
  } finally {
    if (browser) await browser.close();
    await stop(jupyter);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch(err => { console.error(`notebook.mjs: ${err.message ?? err}`); process.exitCode = 1; });
