// Runs an export of a fixture in tests/js/fixtures (called as `fn(AuthClient, ...args)`) against the built package
// in a browser's page, in Deno or in Cloudflare workerd (through Miniflare), and returns what it returned (as
// JSON). `out` is a scratch folder with `node_modules/authbridge` linked to pkg/.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { launchBrowser } from './browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const call = (fixture, fn, args) => `import { ${fn} } from '${root}tests/js/fixtures/${fixture}';
const args = ${JSON.stringify(args)};`;

export async function inDeno(out, fixture, fn, args) {
  const script = `${out}deno-${fn}.js`;
  writeFileSync(script, `import { AuthClient } from '${root}pkg/deno.js';
${call(fixture, fn, args)}
console.log(JSON.stringify(await ${fn}(AuthClient, ...args)));`);
  // 127.1 is 127.0.0.1 written another way (fetch-rules.js).
  const { stdout } = await promisify(execFile)(`${root}node_modules/.bin/deno`, ['run', '--allow-net=127.0.0.1,127.1', `--allow-read=${root}`, script],
    { env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } });
  return JSON.parse(stdout);
}

export async function inWorkerd(out, fixture, fn, args, compatibilityDate) {
  const dir = `${out}workerd-${fn}-${compatibilityDate}/`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}src.js`, `import { AuthClient } from 'authbridge';
${call(fixture, fn, args)}
export default { async fetch() { return Response.json(await ${fn}(AuthClient, ...args)); } };`);
  await build({
    entryPoints: [`${dir}src.js`], bundle: true, format: 'esm', outfile: `${dir}worker.js`,
    conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm'], nodePaths: [`${out}node_modules`], logLevel: 'warning',
  });
  // The bundle keeps the entry's import of ./bindgen/authbridge_bg.wasm (a CompiledWasm module).
  mkdirSync(`${dir}bindgen`, { recursive: true });
  copyFileSync(`${root}pkg/bindgen/authbridge_bg.wasm`, `${dir}bindgen/authbridge_bg.wasm`);
  const mf = new Miniflare({
    modules: true, scriptPath: `${dir}worker.js`, compatibilityDate,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
  });
  try {
    const r = await mf.dispatchFetch('http://worker.test/');
    const text = await r.text();
    if (r.status !== 200) throw new Error(`workerd answered ${r.status}: ${text}`);
    return JSON.parse(text);
  } finally {
    await mf.dispose();
  }
}

// In a page of the browser under test (tests/support/browser.mjs), served by `server` (tests/support/static.mjs with
// the fixtures mounted at /fixtures/): the page loads the package as `lib` (fixtures/hostile.html).
export async function inPage(server, fixture, fn, args) {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/fixtures/hostile.html`);
    await page.evaluate(() => window.ready);
    return await page.evaluate(async ({ fixture, fn, args }) => {
      const module = await import(`/fixtures/${fixture}`);
      return module[fn](window.lib.AuthClient, ...args);
    }, { fixture, fn, args });
  } finally {
    await browser.close();
  }
}
