// Drives a kernel through JupyterLab's own kernel client library,
// @jupyterlab/services, against a running Jupyter server, with the client's
// default options (among them an empty username, as JupyterLab and Notebook 7
// send it). Each check prints one JSON line {check, ok, ms, detail}; the last
// line is {"summary": ...}. The exit status is 0 only if every check passed and
// the library neither dropped a message (its "Kernel message validation
// error") nor logged a warning or an error.
//
// Environment: JUPYTER_URL (the server's base URL), JUPYTER_TOKEN, KERNEL_NAME
// (default ppml-go), CELL_TIMEOUT_MS (default 180000: a cell may compile on a
// loaded machine).
import { KernelManager, ServerConnection } from '@jupyterlab/services';

const baseUrl = process.env.JUPYTER_URL;
const token = process.env.JUPYTER_TOKEN ?? '';
const kernelName = process.env.KERNEL_NAME || 'ppml-go';
const cellTimeout = Number(process.env.CELL_TIMEOUT_MS || 180000);
if (!baseUrl) {
  console.log(JSON.stringify({ summary: { ok: false, problems: ['JUPYTER_URL is not set'] } }));
  process.exit(2);
}

// What the library reports about messages it could not take: it throws
// "Kernel message validation error: ..." from the websocket's handler, and logs
// other trouble with console.error or console.warn. The one warning expected
// is the server closing the websocket while the kernel restarts.
const problems = [];
let restarting = false;
for (const level of ['error', 'warn']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const text = args.map(a => (a instanceof Error ? a.message : String(a))).join(' ');
    if (!(restarting && level === 'warn' && text.startsWith('Connection lost, reconnecting'))) {
      problem(`console.${level}: ${text}`);
    }
    original(...args);
  };
}
process.on('uncaughtException', e => problem(`uncaught exception: ${e?.message ?? e}`));
process.on('unhandledRejection', e => problem(`unhandled rejection: ${e?.message ?? e}`));

// problem records a problem, printing it the first time it comes.
function problem(text) {
  if (!problems.includes(text)) console.log(JSON.stringify({ problem: text }));
  problems.push(text);
}

const received = {}; // msg_type → count, of the messages the library accepted

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} after ${ms} ms`)), ms);
    })
  ]).finally(() => clearTimeout(timer));
}

// counted lists each distinct text once, with how many times it came.
function counted(texts) {
  const n = new Map();
  for (const t of texts) n.set(t, (n.get(t) ?? 0) + 1);
  return [...n].map(([t, k]) => (k > 1 ? `${t} (${k} times)` : t));
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  let r;
  try {
    r = { check: name, ok: true, detail: (await fn()) ?? '' };
  } catch (e) {
    r = { check: name, ok: false, detail: e?.message ?? String(e) };
  }
  r.ms = Date.now() - t0;
  results.push(r);
  console.log(JSON.stringify(r));
  if (!r.ok && problems.length > 0) {
    // The library dropped messages: every other check would wait for its
    // timeout.
    await finish();
  }
  return r.ok;
}

// finish shuts the kernel down, prints the summary and exits.
async function finish() {
  await new Promise(r => setTimeout(r, 500)); // messages still in the library's queue
  if (kernel && !kernel.isDisposed) await withTimeout(kernel.shutdown(), 30000, 'shutdown').catch(() => {});
  const ok = results.every(r => r.ok) && problems.length === 0;
  console.log(JSON.stringify({ summary: { ok, problems: counted(problems), received, passed: results.filter(r => r.ok).length, checks: results.length } }));
  process.exit(ok ? 0 : 1);
}

// execute runs code and collects what the kernel published for it, until the
// library considers the request done (its reply and its idle status came).
async function execute(kernel, code, { onIOPub } = {}) {
  const out = { stdout: '', stderr: '', displays: [], updates: [], errors: [], results: [] };
  const future = kernel.requestExecute({ code });
  future.onIOPub = msg => {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case 'stream':
        out[c.name] += c.text;
        break;
      case 'display_data':
        out.displays.push(c);
        break;
      case 'update_display_data':
        out.updates.push(c);
        break;
      case 'execute_result':
        out.results.push(c);
        break;
      case 'error':
        out.errors.push(c);
        break;
    }
    onIOPub?.(msg, out);
  };
  out.reply = (await withTimeout(future.done, cellTimeout, `execute_reply and idle for ${JSON.stringify(code)}`)).content;
  return out;
}

function expectOK(r, what) {
  assert(r.reply.status === 'ok', `${what}: reply status ${r.reply.status} (${r.reply.evalue ?? ''}), stderr ${JSON.stringify(r.stderr)}`);
}

async function waitIdle(kernel, what, timeout = cellTimeout) {
  const deadline = Date.now() + timeout;
  while (kernel.status !== 'idle' || kernel.connectionStatus !== 'connected') {
    assert(Date.now() < deadline, `${what}: kernel status ${kernel.status}, connection ${kernel.connectionStatus}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

const serverSettings = ServerConnection.makeSettings({ baseUrl, token });
const manager = new KernelManager({ serverSettings });
let kernel;
const started = Date.now();

const startedOK = await check('start', async () => {
  await withTimeout(manager.ready, 60000, 'kernel manager');
  kernel = await withTimeout(manager.startNew({ name: kernelName }), 60000, 'started kernel');
  kernel.anyMessage.connect((_, { msg, direction }) => {
    if (direction === 'recv') received[msg.header.msg_type] = (received[msg.header.msg_type] ?? 0) + 1;
  });
  await waitIdle(kernel, 'after start', 90000);
  return `kernel ${kernel.id}, username ${JSON.stringify(kernel.username)}, idle after ${Date.now() - started} ms`;
});
if (!startedOK) await finish(); // every other check would wait for its timeout

await check('kernel_info', async () => {
  const info = await withTimeout(kernel.info, 60000, 'kernel_info_reply');
  assert(info.status === 'ok', `status ${info.status}`);
  assert(info.implementation === 'ppml-go', `implementation ${info.implementation}`);
  assert(info.language_info?.name === 'go', `language ${info.language_info?.name}`);
  return info.banner;
});

await check('completion', async () => {
  const code = 'import "strings"\n%%\nstrings.ToUp';
  const reply = await withTimeout(kernel.requestComplete({ code, cursor_pos: code.length }), 60000, 'complete_reply');
  const c = reply.content;
  assert(c.status === 'ok', `status ${c.status}`);
  assert(c.matches.some(m => m.includes('ToUpper')), `matches ${JSON.stringify(c.matches)}`);
  return `${c.matches.length} matches, first answer ${Date.now() - started} ms after the kernel was started`;
});

await check('is_complete', async () => {
  const cases = [
    ['func f() {', 'incomplete'],
    ['%%\nfmt.Println(1)', 'complete'],
    ['%%\nfmt.Println(1))', 'invalid']
  ];
  for (const [code, want] of cases) {
    const c = (await withTimeout(kernel.requestIsComplete({ code }), 60000, 'is_complete_reply')).content;
    assert(c.status === want, `${JSON.stringify(code)}: ${c.status}, want ${want}`);
  }
});

await check('stdout', async () => {
  const r = await execute(kernel, '%%\nfmt.Println("hello from go")');
  expectOK(r, 'cell');
  assert(r.stdout.includes('hello from go'), `stdout ${JSON.stringify(r.stdout)}`);
});

await check('stderr', async () => {
  const r = await execute(kernel, 'import "os"\n%%\nfmt.Fprintln(os.Stderr, "to stderr")');
  expectOK(r, 'cell');
  assert(r.stderr.includes('to stderr'), `stderr ${JSON.stringify(r.stderr)}`);
});

await check('declarations across cells', async () => {
  expectOK(await execute(kernel, 'func double(x int) int { return 2 * x }'), 'declaration cell');
  const r = await execute(kernel, '%%\nfmt.Println(double(21))');
  expectOK(r, 'cell using it');
  assert(r.stdout.trim() === '42', `stdout ${JSON.stringify(r.stdout)}`);
});

await check('display and update_display', async () => {
  const code = [
    'import "github.com/janpfeifer/gonb/gonbui"',
    '%%',
    'id := "progress-" + gonbui.UniqueId()',
    'for i := 0; i <= 3; i++ {',
    '\tgonbui.UpdateHTML(id, fmt.Sprintf("<b>step %d</b>", i))',
    '}',
    'gonbui.DisplayHTML("<i>done</i>")',
    'gonbui.Sync()'
  ].join('\n');
  const r = await execute(kernel, code);
  expectOK(r, 'cell');
  const progress = r.displays.find(d => d.transient?.display_id);
  assert(progress, `no display_data with a display_id: ${JSON.stringify(r.displays)}`);
  const id = progress.transient.display_id;
  const last = r.updates.filter(u => u.transient?.display_id === id).at(-1);
  assert(last?.data?.['text/html']?.includes('step 3'), `updates of ${id}: ${JSON.stringify(r.updates)}`);
  assert(r.displays.some(d => d.data?.['text/html']?.includes('<i>done</i>')), `displays ${JSON.stringify(r.displays)}`);
  return `1 display, ${r.updates.length} updates`;
});

await check('compile error', async () => {
  const r = await execute(kernel, '%%\nx := 1\nfmt.Println(nosuchname, x)');
  assert(r.reply.status === 'error', `reply status ${r.reply.status}`);
  assert(r.errors.length === 1, `${r.errors.length} error messages`);
  const e = r.errors[0];
  for (const [what, text] of [['evalue', e.evalue], ['reply evalue', r.reply.evalue], ['traceback', e.traceback.join('\n')]]) {
    assert(/nosuchname/.test(text) && /line 3\b/i.test(text), `${what} ${JSON.stringify(text)} does not name nosuchname at line 3`);
  }
  return `${e.ename}: ${e.evalue}`;
});

await check('panic', async () => {
  const r = await execute(kernel, '%%\npanic("boom")');
  assert(r.reply.status === 'error', `reply status ${r.reply.status}`);
  assert(r.errors.length === 1, `${r.errors.length} error messages`);
  const e = r.errors[0];
  assert(e.ename === 'panic' && e.evalue === 'boom', `error ${e.ename}: ${e.evalue}`);
  assert(r.reply.ename === 'panic' && r.reply.evalue === 'boom', `reply ${r.reply.ename}: ${r.reply.evalue}`);
});

await check('inspect', async () => {
  const code = 'import "strings"\n%%\nfmt.Println(strings.ToUpper("a"))';
  const at = code.indexOf('ToUpper') + 3;
  const c = (await withTimeout(kernel.requestInspect({ code, cursor_pos: at, detail_level: 0 }), 60000, 'inspect_reply')).content;
  assert(c.status === 'ok' && c.found, `on strings.ToUpper: status ${c.status}, found ${c.found}`);
  const text = c.data['text/plain'] ?? c.data['text/markdown'] ?? '';
  assert(text.includes('ToUpper'), `on strings.ToUpper: ${JSON.stringify(c.data)}`);
  for (const [name, code2, pos] of [
    ['blank', '%%\n\n', 3],
    ['a declarations cell', 'var s = 1 + 2', 8]
  ]) {
    const d = (await withTimeout(kernel.requestInspect({ code: code2, cursor_pos: pos, detail_level: 0 }), 60000, 'inspect_reply')).content;
    assert(d.status === 'ok', `on ${name}: status ${d.status}`);
    assert(!d.found || !JSON.stringify(d.data).includes('gopls'), `on ${name}: found with ${JSON.stringify(d.data)}`);
  }
});

await check('history', async () => {
  const c = (await withTimeout(kernel.requestHistory({ output: false, raw: true, hist_access_type: 'tail', n: 100 }), 60000, 'history_reply')).content;
  assert(c.status === 'ok', `status ${c.status}`);
  assert(c.history.some(h => String(h[2]).includes('hello from go')), `history ${JSON.stringify(c.history).slice(0, 300)}`);
  return `${c.history.length} entries`;
});

await check('interrupt an endless loop', async () => {
  let running;
  const isRunning = new Promise(r => (running = r));
  const pending = execute(kernel, '%%\nfmt.Println("looping")\nfor {\n}', {
    onIOPub: (msg, out) => out.stdout.includes('looping') && running()
  });
  pending.catch(() => running());
  await withTimeout(isRunning, cellTimeout, 'output of the endless loop');
  await withTimeout(kernel.interrupt(), 60000, 'interrupt');
  const r = await withTimeout(pending, 60000, 'reply of the interrupted cell');
  assert(r.reply.status !== 'ok', `interrupted cell: reply status ${r.reply.status}`);
  await waitIdle(kernel, 'after interrupt');
  expectOK(await execute(kernel, '%%\nfmt.Println("after")'), 'cell after the interrupt');
  return `reply ${r.reply.status}`;
});

await check('restart', async () => {
  restarting = true;
  await withTimeout(kernel.restart(), 120000, 'restart');
  await waitIdle(kernel, 'after restart');
  restarting = false;
  const r = await execute(kernel, '%%\nfmt.Println(double(2))');
  assert(r.reply.status === 'error', `double is still declared after restart: ${r.reply.status} ${r.stdout}`);
  const ok = await execute(kernel, '%%\nfmt.Println("restarted")');
  expectOK(ok, 'cell after restart');
  assert(ok.stdout.includes('restarted'), `stdout ${JSON.stringify(ok.stdout)}`);
});

await check('shutdown', async () => {
  await withTimeout(kernel.shutdown(), 60000, 'shutdown');
});

await finish();
