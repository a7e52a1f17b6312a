// authbridge/react in a Vite React app (tests/bundlers/react-app, StrictMode on) with the packed package, against
// the reference bridge through Vite's same-origin proxy (the vite.config.js of pkg-template/README.md's "Same-origin
// dev proxy", written into the app from the README), in Chromium (or WebKitGTK with TEST_BROWSER=webkit): a
// production build (vite build + preview) and the dev server (StrictMode's double effects, a reload with a stored
// token, HMR edits). Any page error or console error fails, but for Chromium's log line of the expected 401 of a
// first visit without a session.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, createServer, preview } from 'vite';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchBrowser, WEBKIT } from '../support/browser.mjs';
import { ERROR_COLLECTOR } from '../support/webkit.mjs';
import { installPackage, root } from '../bundlers/install.mjs';
import { recipeFiles } from '../support/docs.mjs';

const work = join(root, 'target', 'react-test');
const app = join(work, 'app');
let bridge, browser;

before(async () => {
  rmSync(work, { recursive: true, force: true });
  cpSync(join(root, 'tests', 'bundlers', 'react-app'), app, { recursive: true });
  for (const [path, code] of recipeFiles('react')) writeFileSync(join(app, path), code);
  installPackage(app);
  bridge = await startReferenceBridge({ tokenLifetime: 30 });
  // The README's vite.config.js reads the bridge's URL from BRIDGE_URL.
  process.env.BRIDGE_URL = bridge.url;
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await bridge?.close(); });
// createServer and build set process.env.NODE_ENV for the whole process when it is unset: a build after a dev
// server would bundle React's development build, a dev server after a build would have no Fast Refresh.
const nodeEnv = process.env.NODE_ENV;
afterEach(() => { if (nodeEnv === undefined) delete process.env.NODE_ENV; else process.env.NODE_ENV = nodeEnv; });

// The app's vite.config.js is the README's: the React plugin, and the bridge's routes proxied with the Host header
// kept (`{ target }` objects: changeOrigin off): the bridge checks Origin against Host, and its cookies then belong
// to the dev server's origin. Vite's own cache (pre-bundled dependencies) in the test's folder: the default, the
// repository's node_modules/.vite, would outlive a rebuilt package, whose glue would then no longer match its fresh
// .wasm. WebKit is watched through WebDriver, which has no event stream: the page collects its own errors from its
// first script on (tests/support/webkit.mjs); Vite adds that plugin to the config file's.
const collectErrors = { name: 'collect-errors', transformIndexHtml: () => [{ tag: 'script', children: ERROR_COLLECTOR, injectTo: 'head-prepend' }] };
const config = {
  root: app, cacheDir: join(work, 'vite-cache'), configFile: join(app, 'vite.config.js'), logLevel: 'warn',
  plugins: WEBKIT ? [collectErrors] : [],
};
const server = { host: '127.0.0.1', port: 0 };

async function open(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  const messages = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e}`));
  page.on('console', (m) => {
    messages.push(m.text());
    // A first visit without a session: the bridge answers the token request 401, which Chromium logs.
    const expected = m.location().url.endsWith('/auth/point/token') && m.text().includes('status of 401');
    if (m.type() === 'error' && !expected) errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { context, page, errors, messages };
}

const text = (page, id) => page.locator(`#${id}`).textContent();
async function waitStatus(page, status) {
  // Generous: a dev server's first page load also bundles the dependencies.
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, status, { timeout: 20_000 });
}
const clients = (page) => page.evaluate(() => ({ live: window.authbridgeClients.live.size, started: window.authbridgeClients.started }));
const tokenCalls = async () => (await bridge.stats()).tokenCalls.point ?? 0;

async function firstVisitSignedOut(page) {
  await waitStatus(page, 'signedOut');
  assert.equal(await text(page, 'error'), '', 'no session is not an error');
}

async function signIn(page) {
  assert.equal(await act(page, '#signin'), 'signed in: true');
  await waitStatus(page, 'signedIn');
  assert.match(await text(page, 'sub'), /^point\|/);
  assert.match(await text(page, 'expires'), /^\d{4}-/);
  await callApi(page);
}

// Clicks an action button and waits for the app to report its outcome.
async function act(page, button) {
  const n = Number(await page.getAttribute('#result', 'data-n'));
  await page.click(button);
  await page.waitForFunction((n) => Number(document.getElementById('result').dataset.n) > n, n, { timeout: 10_000 });
  return text(page, 'result');
}

async function callApi(page) {
  assert.equal(await act(page, '#call'), `api 200 ${await text(page, 'sub')}`);
}

async function signOut(page) {
  assert.equal(await act(page, '#signout'), 'signed out');
  await waitStatus(page, 'signedOut');
  assert.equal(await text(page, 'error'), '');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
}

function assertClean({ errors, messages }) {
  assert.deepEqual(errors, []);
  assert.deepEqual(messages.filter((m) => /freed|null pointer/i.test(m)), []);
}

test('dev server (StrictMode): reload with a stored token, HMR edits, sign out', async () => {
  const dev = await createServer({ ...config, server: { ...server, proxy: {
    '/changed-origin/': { target: bridge.url, changeOrigin: true, rewrite: (p) => p.replace('/changed-origin', '') } } } });
  await dev.listen();
  try {
    const tab = await open(dev.resolvedUrls.local[0]);
    const { page } = tab;
    await firstVisitSignedOut(page);
    await signIn(page);

    // A reload with the token in sessionStorage: StrictMode mounts, cleans up and mounts again; the client is
    // created once init() resolved, so one client restores the token, without asking the bridge.
    const calls = await tokenCalls();
    await page.reload();
    await waitStatus(page, 'signedIn');
    assert.deepEqual(await clients(page), { live: 1, started: 1 });
    await callApi(page);
    assert.equal(await tokenCalls(), calls, 'the stored token was used');

    // HMR of a component below the provider: the module is swapped in place (no full reload), the client stays.
    await page.evaluate(() => { window.notReloaded = true; });
    const status = join(app, 'src', 'Status.jsx');
    writeFileSync(status, readFileSync(status, 'utf8').replace('>Status<', '>Status (edited)<'));
    await page.waitForFunction(() => document.getElementById('label')?.textContent === 'Status (edited)', null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.notReloaded), true, `a hot update, not a reload: ${tab.messages.join('\n')}`);
    assert.equal(await text(page, 'status'), 'signedIn');
    assert.deepEqual(await clients(page), { live: 1, started: 1 });
    await callApi(page);

    // HMR that remounts the provider: App gets one more hook, so Fast Refresh cannot keep its state and remounts
    // it. The old client is freed, a new one restores the token.
    const appFile = join(app, 'src', 'App.jsx');
    const source = readFileSync(appFile, 'utf8');
    const hooks = 'const [renders, setRenders] = useState(0);';
    assert.ok(source.includes(hooks));
    writeFileSync(appFile, source.replace(hooks, `${hooks}\n  useState('one more hook');`));
    await page.waitForFunction(() => window.authbridgeClients.started === 2, null, { timeout: 10_000 });
    await waitStatus(page, 'signedIn');
    assert.equal(await page.evaluate(() => window.notReloaded), true, `a hot update, not a reload: ${tab.messages.join('\n')}`);
    assert.deepEqual(await clients(page), { live: 1, started: 2 });
    await callApi(page);

    // Re-renders with equal options keep the client; changed options replace it.
    for (let i = 0; i < 3; i++) await page.click('#rerender');
    assert.deepEqual(await clients(page), { live: 1, started: 2 });
    await page.click('#change-options');
    await page.waitForFunction(() => window.authbridgeClients.started === 3, null, { timeout: 10_000 });
    await waitStatus(page, 'signedIn');
    assert.deepEqual(await clients(page), { live: 1, started: 3 });
    await callApi(page);

    await signOut(page);
    assertClean(tab);
    await tab.context.close();

    // The proxy pitfall: with changeOrigin: true the bridge sees its own Host but the page's Origin, and refuses
    // the same request that passes through the proxy that keeps Host.
    const devOrigin = new URL(dev.resolvedUrls.local[0]).origin;
    const signInVia = (prefix) => fetch(`${devOrigin}${prefix}/session`, { method: 'POST',
      headers: { origin: devOrigin, cookie: 'authbridge_csrf=x', 'x-csrf-token': 'x', 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }) });
    assert.equal((await signInVia('')).status, 200);
    const refused = await signInVia('/changed-origin');
    assert.equal(refused.status, 403);
    assert.match((await refused.json()).message, /changeOrigin: true rewrites Host/);
  } finally {
    await dev.close();
  }
});

test('production build (vite build + preview): first visit, sign in, reload, sign out; a missing .wasm', async () => {
  await build({ ...config, build: { outDir: join(work, 'dist'), emptyOutDir: true } });
  const previewServer = await preview({ ...config, build: { outDir: join(work, 'dist') }, preview: server });
  try {
    const tab = await open(previewServer.resolvedUrls.local[0]);
    const { page } = tab;
    await firstVisitSignedOut(page);
    await signIn(page);
    // Options are a new object on every render of App: the provider keeps its one client.
    for (let i = 0; i < 3; i++) await page.click('#rerender');
    assert.deepEqual(await clients(page), { live: 1, started: 1 });
    await page.reload();
    await waitStatus(page, 'signedIn');
    await callApi(page);
    await signOut(page);
    assertClean(tab);
    await tab.context.close();

    // Deployed without its .wasm: the provider throws to the nearest error boundary (none here, so React reports
    // it as uncaught), saying what failed and what to do.
    const dist = join(work, 'dist', 'assets');
    rmSync(join(dist, readdirSync(dist).find((f) => f.endsWith('.wasm'))));
    const broken = await open(previewServer.resolvedUrls.local[0]);
    for (const deadline = Date.now() + 10_000; !broken.errors.length && Date.now() < deadline;) await broken.page.waitForTimeout(50);
    assert.ok(broken.errors.some((e) => e.startsWith('pageerror: Error: authbridge: the WebAssembly module did not load')),
      broken.errors.join('\n'));
    await broken.context.close();
  } finally {
    await previewServer.close();
  }
});
