// The built package in headless Chromium (or WebKitGTK with TEST_BROWSER=webkit): imported as plain ESM by URL, and
// bundled with esbuild.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startBridge } from '../support/bridge.mjs';
import { serveStatic } from '../support/static.mjs';
import { launchBrowser, WEBKIT } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/bundle-test/`;
let bridge, server, browser;

before(async () => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
  await build({
    entryPoints: [`${root}tests/js/fixtures/bundle-entry.js`], bundle: true, format: 'esm', minify: true,
    outfile: `${out}bundle.js`, nodePaths: [`${out}node_modules`], logLevel: 'warning',
  });
  // The web build loads its .wasm next to the script (new URL(…, import.meta.url)): ship it beside the bundle.
  copyFileSync(`${root}pkg/bindgen-browser/authbridge_bg.wasm`, `${out}authbridge_bg.wasm`); // the browser build's (the `browser` condition)
  copyFileSync(`${root}tests/js/fixtures/bundle.html`, `${out}index.html`);
  bridge = await startBridge();
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures`, '/bundle/': out } });
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
