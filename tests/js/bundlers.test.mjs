// The packed package (npm pack of pkg/) in a small vanilla app built with Vite, webpack, esbuild and Rollup, each
// output served by the reference bridge (--www, so same origin, under its strict CSP) and run in Chromium: sign in,
// start, call the API, decode the token. Also what a page sees when the .wasm was not shipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build as vite } from 'vite';
import webpack from 'webpack';
import { build as esbuild } from 'esbuild';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { importMetaAssets } from '@web/rollup-plugin-import-meta-assets';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchChromium } from '../support/chromium.mjs';
import { installPackage, root } from '../bundlers/install.mjs';

const work = join(root, 'target', 'bundlers-test');
const app = join(work, 'app');
const www = join(work, 'www');
let bridge, browser, installed;

before(async () => {
  rmSync(work, { recursive: true, force: true });
  cpSync(join(root, 'tests', 'bundlers', 'vanilla'), app, { recursive: true });
  installed = installPackage(app);
  mkdirSync(www);
  bridge = await startReferenceBridge({ tokenLifetime: 30, extra: ['--www', www] });
  browser = await launchChromium();
});
after(async () => { await browser?.close(); await bridge?.close(); });

// index.html next to a bundle; webpack's default output is a classic script.
function writePage(dir, script = '<script type="module" src="./main.js"></script>') {
  const html = readFileSync(join(app, 'index.html'), 'utf8').replace(/<script[^>]*><\/script>/, script);
  writeFileSync(join(www, dir, 'index.html'), html);
}

async function load(dir) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  tab.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await tab.goto(`${bridge.url}/${dir}/index.html`);
  await tab.waitForFunction(() => window.result, null, { timeout: 15_000 });
  const result = await tab.evaluate(() => window.result);
  await context.close();
  return { result, errors };
}

async function assertSignsIn(dir) {
  const { result, errors } = await load(dir);
  assert.equal(result.error, undefined, JSON.stringify(result));
  assert.equal(result.started, true, JSON.stringify(result));
  assert.equal(result.api, 200);
  assert.match(result.sub, /^point\|/);
  assert.equal(result.apiSub, result.sub, 'the API saw the token the page decoded');
  assert.deepEqual(errors, []);
  // The module was shipped as a file, never inlined (a data: URL would break under a strict CSP).
  assert.ok(readdirSync(join(www, dir), { recursive: true }).some((f) => f.endsWith('.wasm')), `${dir}: a .wasm file`);
}

test('Vite: the build emits the .wasm; init() finds it', async () => {
  await vite({ root: app, base: './', cacheDir: join(work, 'vite-cache'), configFile: false, logLevel: 'warn',
    build: { outDir: join(www, 'vite'), emptyOutDir: true } });
  await assertSignsIn('vite');
});

test('webpack: the build emits the .wasm (new URL(…, import.meta.url) is an asset); init() finds it', async () => {
  const stats = await new Promise((resolve, reject) => webpack({
    mode: 'production', context: app, entry: './main.js', performance: { hints: false },
    output: { path: join(www, 'webpack'), filename: 'main.js' },
  }, (e, s) => (e ? reject(e) : resolve(s))));
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  writePage('webpack', '<script defer src="./main.js"></script>');
  await assertSignsIn('webpack');
});

test('esbuild: import the .wasm with the file loader, pass its URL to init()', async () => {
  await esbuild({ entryPoints: { main: join(app, 'main-esbuild.js') }, bundle: true, format: 'esm', minify: true,
    outdir: join(www, 'esbuild'), loader: { '.wasm': 'file' }, logLevel: 'warning' });
  writePage('esbuild');
  await assertSignsIn('esbuild');
});

test('Rollup: @web/rollup-plugin-import-meta-assets emits the .wasm; init() finds it', async () => {
  const bundle = await rollup({ input: join(app, 'main.js'), plugins: [nodeResolve({ browser: true }), importMetaAssets()] });
  await bundle.write({ dir: join(www, 'rollup'), format: 'es', entryFileNames: 'main.js' });
  await bundle.close();
  writePage('rollup');
  await assertSignsIn('rollup');
});

test('a bundle shipped without its .wasm: init() rejects naming the URL and the status; copying it fixes that', async () => {
  // esbuild without the file loader: the glue still asks for bindgen-browser/authbridge_bg.wasm next to the bundle.
  await esbuild({ entryPoints: { main: join(app, 'main.js') }, bundle: true, format: 'esm',
    outdir: join(www, 'esbuild-copy'), logLevel: 'warning' });
  writePage('esbuild-copy');
  const missing = await load('esbuild-copy');
  const url = `${bridge.url}/esbuild-copy/bindgen-browser/authbridge_bg.wasm`;
  assert.equal(missing.result.error, `Error: failed to fetch Wasm: 404 Not Found fetching '${url}'`);
  // Chromium's own log line for the 404 is the only console error.
  assert.deepEqual(missing.errors, ['Failed to load resource: the server responded with a status of 404 (Not Found)']);
  mkdirSync(join(www, 'esbuild-copy', 'bindgen-browser'));
  copyFileSync(join(installed, 'bindgen-browser', 'authbridge_bg.wasm'), join(www, 'esbuild-copy', 'bindgen-browser', 'authbridge_bg.wasm'));
  await assertSignsIn('esbuild-copy');
});
