// The built package in headless Chromium (or WebKitGTK with TEST_BROWSER=webkit): imported as plain ESM by URL, and
// bundled with esbuild.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startBridge } from '../support/bridge.mjs';
import { serveStatic } from '../support/static.mjs';
import { launchBrowser, WEBKIT } from '../support/browser.mjs';
import { recipeFiles } from '../support/docs.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/bundle-test/`;
let bridge, server, browser;
const requests = [];

before(async () => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
  await build({
    entryPoints: [`${root}tests/js/fixtures/bundle-entry.js`], bundle: true, format: 'esm', minify: true,
    outfile: `${out}bundle.js`, nodePaths: [`${out}node_modules`], logLevel: 'warning',
  });
  // The browser entry loads its .wasm from bindgen-browser/ next to the script (new URL(…, import.meta.url)): ship
  // it there beside the bundle.
  mkdirSync(`${out}bindgen-browser`, { recursive: true });
  copyFileSync(`${root}pkg/bindgen-browser/authbridge_bg.wasm`, `${out}bindgen-browser/authbridge_bg.wasm`); // the browser build's (the `browser` condition)
  copyFileSync(`${root}tests/js/fixtures/bundle.html`, `${out}index.html`);
  // The README's page with the package preloaded (the app 'preload': its index.html), the package served where
  // its import map and preload links say.
  mkdirSync(`${out}preload/src`, { recursive: true });
  writeFileSync(`${out}preload/index.html`, `${recipeFiles('preload').get('index.html')}<script src="/fixtures/exercise.js"></script>\n`);
  writeFileSync(`${out}preload/src/main.js`, `import init, { decodeJwt, AuthClient } from 'authbridge';
window.result = init().then(() => window.exercise({ decodeJwt, AuthClient })).catch((e) => ({ error: String(e) }));
`);
  bridge = await startBridge();
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures`, '/bundle/': out,
    '/preload/': `${out}preload`, '/src/': `${out}preload/src`, '/node_modules/authbridge/': `${root}pkg` }, requests });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await server?.close(); await bridge?.close(); });

async function run(path) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${server.url}${path}?bridge=${encodeURIComponent(bridge.url)}`);
  const result = await page.evaluate(() => window.result);
  await page.close();
  return { result, errors };
}

for (const [name, path] of [['ESM without a bundler', '/fixtures/esm.html'], ['esbuild bundle', '/bundle/']]) {
  test(`package works in ${WEBKIT ? 'WebKitGTK' : 'Chromium'}: ${name}`, async () => {
    const { result, errors } = await run(path);
    assert.equal(result.error, undefined);
    assert.equal(result.name, 'José');
    assert.equal(result.sentToken, true);
    assert.deepEqual(Object.keys(JSON.parse(result.stored)), ['token', 'expiresAt', 'header', 'client']);
    assert.equal(result.afterSignOut, null);
    assert.deepEqual(errors, []);
  });
}

test(`the README's preloaded page (${WEBKIT ? 'WebKitGTK' : 'Chromium'}): the preload links' downloads serve the page (in WebKit, the .wasm is downloaded again)`, async () => {
  requests.length = 0;
  const { result, errors } = await run('/preload/');
  assert.equal(result.error, undefined);
  assert.equal(result.sentToken, true);
  // A preload the page's own request cannot use (another mode, another URL) is a second download. WebKit never
  // hands a preloaded file to fetch() (the README says so): a second download there.
  const wasm = '/node_modules/authbridge/bindgen-browser/authbridge_bg.wasm';
  assert.deepEqual(requests.filter((p) => p.startsWith('/node_modules/')).sort(),
    [...(WEBKIT ? [wasm, wasm] : [wasm]), '/node_modules/authbridge/browser.js']);
  assert.deepEqual(errors, []);
});
