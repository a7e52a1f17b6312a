// The framework recipes of pkg-template/README.md, run as a newcomer would: each app in tests/frameworks/<app>/ (the
// test's own page) gets the README's blocks marked `docs: file <app>/…` written in (tests/support/docs.mjs), the
// package installed from its packed tarball (npm pack pkg/), is built with the framework's own CLI, served, and
// signed in through the reference bridge in Chromium: Next.js 16 (App Router: provider in the root layout, rewrites,
// --allow-origin, reloads with and without a stored token, a server component rendering <AuthProvider>), SvelteKit
// (SSR on, the client created only in the browser), Vue 3 (the shallowRef binding), React with Vite (the README's
// src/main.jsx and proxy config) and a Vite module worker that makes the page's API calls. Each app runs built
// (build + preview/start) and under its dev server. Any page error or console error fails, but for Chromium's log line of the expected
// 401 of a first visit without a session. The frameworks come from tests/frameworks/package-lock.json (installed by
// scripts/install-deps.sh, or here when missing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { installPackage } from '../bundlers/install.mjs';
import { recipeFiles, root } from '../support/docs.mjs';

const frameworks = join(root, 'tests', 'frameworks');
const work = join(frameworks, '.work');
const bin = {
  next: join(frameworks, 'node_modules', 'next', 'dist', 'bin', 'next'),
  vite: join(frameworks, 'node_modules', 'vite', 'bin', 'vite.js'),
};
let browser;

before(async () => {
  if (!Object.values(bin).every(existsSync)) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: frameworks, stdio: 'inherit' });
  }
  rmSync(work, { recursive: true, force: true });
  browser = await launchChromium();
});
after(async () => { await browser?.close(); });

// The app's fixture, the README's files written in (never over a fixture file), the packed package installed.
function prepare(app) {
  const dir = join(work, app);
  cpSync(join(frameworks, app), dir, { recursive: true });
  for (const [path, code] of recipeFiles(app)) {
    assert.ok(!existsSync(join(frameworks, app, path)), `tests/frameworks/${app}/${path} would hide the README's ${path}`);
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), code);
  }
  installPackage(dir);
  return dir;
}

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  s.on('error', reject);
});

// A CLI run to completion (a build): its output is shown only when it fails.
function run(cwd, args, env, timeoutMs = 240_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.slice(1).join(' ')} in ${cwd}: ${signal ?? `exit ${code}`}\n${out}`));
    });
  });
}

// A server (next start, vite preview) in its own process group, stopped by close() and by itself after 5 minutes.
async function serve(cwd, args, env, url) {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} };
  const timer = setTimeout(kill, 300_000);
  timer.unref();
  const close = () => new Promise((resolve) => {
    clearTimeout(timer);
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    kill();
  });
  for (const deadline = Date.now() + 60_000; ;) {
    if (child.exitCode !== null) throw new Error(`${args.slice(1).join(' ')} exited: ${out}`);
    try {
      if ((await fetch(url)).status < 500) break;
    } catch {}
    if (Date.now() > deadline) { await close(); throw new Error(`${args.slice(1).join(' ')} did not serve ${url}: ${out}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { close, output: () => out, html: (path = '/') => fetch(new URL(path, url)).then((r) => r.text(), (e) => {
    throw new Error(`GET ${path}: ${e.cause?.message ?? e.message}; the server said:\n${out}`);
  }) };
}

async function open(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => {
    // A first visit without a session: the bridge answers the token request 401, which Chromium logs.
    const expected = m.location().url.endsWith('/auth/point/token') && m.text().includes('status of 401');
    if (m.type() === 'error' && !expected) errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  await page.goto(url);
  return { context, page, errors };
}

const text = (page, id) => page.locator(`#${id}`).textContent();
async function waitStatus(page, status) {
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, status, { timeout: 20_000 })
    .catch(async (e) => { throw new Error(`status ${await text(page, 'status').catch(() => '?')} (error: ${await text(page, 'error').catch(() => '?')}), not ${status}: ${e.message}`); });
}
// Clicks an action button and waits for the app to report its outcome.
async function act(page, button) {
  const n = Number(await page.getAttribute('#result', 'data-n'));
  await page.click(button);
  await page.waitForFunction((n) => Number(document.getElementById('result').dataset.n) > n, n, { timeout: 15_000 });
  return text(page, 'result');
}
const tokenCalls = async (bridge) => (await bridge.stats()).tokenCalls.point ?? 0;

// The flow every UI recipe must carry: a first visit without a session, sign in, an API call with the token, a
// reload that restores the stored token without asking the bridge, a reload without it (the session cookie is
// enough: one bridge call), sign out, and a reload after that.
async function signInFlow(bridge, url) {
  const tab = await open(url);
  const { page } = tab;
  await waitStatus(page, 'signedOut');
  assert.equal(await text(page, 'error'), '', 'a first visit without a session is not an error');

  assert.equal(await act(page, '#signin'), 'signed in: true');
  await waitStatus(page, 'signedIn');
  const sub = await text(page, 'sub');
  assert.match(sub, /^point\|/);
  assert.equal(await act(page, '#call'), `api 200 ${sub}`);

  const calls = await tokenCalls(bridge);
  await page.reload();
  await waitStatus(page, 'signedIn');
  assert.equal(await act(page, '#call'), `api 200 ${sub}`);
  assert.equal(await tokenCalls(bridge), calls, 'a reload with a stored token does not ask the bridge');

  const stored = () => page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('authbridge')));
  assert.equal((await stored()).length, 1, 'the token is stored');
  await page.evaluate(() => { for (const k of Object.keys(sessionStorage)) if (k.startsWith('authbridge')) sessionStorage.removeItem(k); });
  await page.reload();
  await waitStatus(page, 'signedIn');
  assert.equal(await act(page, '#call'), `api 200 ${sub}`);
  assert.equal(await tokenCalls(bridge), calls + 1, 'a reload without a stored token asks the bridge once');

  assert.equal(await act(page, '#signout'), 'signed out');
  await waitStatus(page, 'signedOut');
  assert.deepEqual(await stored(), []);
  await page.reload();
  await waitStatus(page, 'signedOut');
  assert.equal(await text(page, 'error'), '');
  assert.deepEqual(tab.errors, []);
  await tab.context.close();
}

const listen = async () => { const port = await freePort(); return { port: String(port), origin: `http://127.0.0.1:${port}` }; };
const viteServe = (command, { port }) => [bin.vite, command, '--host', '127.0.0.1', '--port', port, '--strictPort'];

test('Next.js 16 App Router: next build + next start, then next dev; rewrites to a bridge that allows the app origin', { timeout: 420_000 }, async () => {
  const dir = prepare('next');
  const prod = await listen();
  const dev = await listen();
  // Next's rewrites send the bridge its own Host: the app's origins must be allowed there.
  const bridge = await startReferenceBridge({ tokenLifetime: 30, extra: ['--allow-origin', prod.origin, '--allow-origin', dev.origin] });
  const env = { BRIDGE_URL: bridge.url, NEXT_TELEMETRY_DISABLED: '1' };
  let server;
  try {
    await run(dir, [bin.next, 'build'], env);
    server = await serve(dir, [bin.next, 'start', '--hostname', '127.0.0.1', '--port', prod.port], env, prod.origin);
    // Server rendering: the provider's fallback (no CSRF token, no client on the server), and a server component
    // that renders <AuthProvider> itself: in its payload, AuthProvider is a client reference (authbridge/react is a
    // client module) with the server-rendered child.
    assert.match(await server.html(), /<p>Loading…<\/p>/);
    const payload = await server.html('/server-import');
    assert.ok(/I\[\d+,\[[^\]]*\],\\"AuthProvider\\"\]/.test(payload) && payload.includes('rendered by a server component'),
      `a client reference to AuthProvider and its child in ${payload.length} B of server-rendered page`);
    await signInFlow(bridge, prod.origin);
    await server.close();

    // The development server (StrictMode's double effects in the App Router): the same flow.
    server = await serve(dir, [bin.next, 'dev', '--hostname', '127.0.0.1', '--port', dev.port], env, dev.origin);
    await signInFlow(bridge, dev.origin);
  } finally {
    await server?.close();
    await bridge.close();
  }
});

/**
 * A Vite app (tests/frameworks/`app`, with its README recipe files) built, then signed in through under
 * `vite preview` and `vite dev`; `check(server, command)` looks at each server first.
 */
async function viteApp(app, check = async () => {}) {
  const dir = prepare(app);
  const bridge = await startReferenceBridge({ tokenLifetime: 30 });
  const env = { BRIDGE_URL: bridge.url };
  let server;
  try {
    await run(dir, [bin.vite, 'build', '--logLevel', 'warn'], env);
    for (const command of ['preview', 'dev']) {
      const at = await listen();
      server = await serve(dir, viteServe(command, at), env, at.origin);
      await check(server, command);
      await signInFlow(bridge, at.origin);
      await server.close();
    }
  } finally {
    await server?.close();
    await bridge.close();
  }
}

test('SvelteKit: vite build + vite preview, then vite dev, with SSR on; the client exists only in the browser', { timeout: 300_000 }, () =>
  viteApp('sveltekit', async (server, command) => {
    // Server-rendered: the store is 'starting' there (no client, no error).
    assert.match(await server.html(), /<p id="status">starting<\/p>/, command);
  }));

test('Vue 3: vite build + vite preview, then vite dev; the shallowRef binding', { timeout: 300_000 }, () => viteApp('vue'));

test('React with Vite: vite build + vite preview, then vite dev (StrictMode); the README\'s main.jsx and proxy config', { timeout: 300_000 }, () =>
  viteApp('react-vite'));

test('a Vite module worker (worker.format es) makes the page\'s API calls; the token never enters the page', { timeout: 300_000 }, async () => {
  const dir = prepare('vite-worker');
  const bridge = await startReferenceBridge({ tokenLifetime: 30 });
  const env = { BRIDGE_URL: bridge.url };
  let server;
  try {
    await run(dir, [bin.vite, 'build', '--logLevel', 'warn'], env);
    const assets = readdirSync(join(dir, 'dist', 'assets'));
    assert.ok(assets.some((f) => /^authbridge_bg-.*\.wasm$/.test(f)), `the worker's .wasm is emitted: ${assets}`);
    for (const command of ['preview', 'dev']) {
      const at = await listen();
      server = await serve(dir, viteServe(command, at), env, at.origin);
      const tab = await open(at.origin);
      const { page } = tab;
      const calls = await tokenCalls(bridge);
      assert.equal(await act(page, '#signin'), 'signed in');
      const first = await act(page, '#call');
      assert.match(first, /^api 200 point\|/, command);
      assert.equal(await act(page, '#call'), first);
      assert.equal(await tokenCalls(bridge), calls + 1, `${command}: one token for both calls`);
      assert.equal(await page.evaluate(() => window.tokenInPage()), 0, 'nothing stored in the page');
      // A new page: a new worker, a new client (memory storage in a worker), one more token.
      await page.reload();
      assert.equal(await act(page, '#call'), first);
      assert.equal(await tokenCalls(bridge), calls + 2);
      assert.deepEqual(tab.errors, [], command);
      await tab.context.close();
      await server.close();
    }
  } finally {
    await server?.close();
    await bridge.close();
  }
});
