// Cold start in Cloudflare workerd (Miniflare): a fresh workerd per run; the time of the first request to a
// worker that obtains a token with authbridge, against a baseline worker that calls the token endpoint by hand.
// Usage: node bench/cold-start-workerd.mjs <pointUrl> <userId> <apiKey> [runs]
import { Miniflare } from 'miniflare';
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [pointUrl, userId, apiKey, runs = '5'] = process.argv.slice(2);
const root = fileURLToPath(new URL('../', import.meta.url));
const out = `${root}target/cold-start-workerd/`;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}node_modules`, { recursive: true });
symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
await build({
  stdin: { contents: `import { AuthClient } from 'authbridge';
export default { async fetch(req, env) {
  const auth = new AuthClient({ tokenUrl: env.TOKEN_URL, apiOrigins: [new URL(env.TOKEN_URL).origin], format: 'point', storage: 'memory', bridgeHeaders: { Authorization: 'Bearer ' + env.KEY } });
  return new Response((await auth.accessToken()).length > 0 ? 'ok' : 'no');
} };`, resolveDir: out },
  bundle: true, format: 'esm', outfile: `${out}worker.js`, conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm'], nodePaths: [`${out}node_modules`], logLevel: 'error',
});
mkdirSync(`${out}bindgen`, { recursive: true });
copyFileSync(`${root}pkg/bindgen/authbridge_bg.wasm`, `${out}bindgen/authbridge_bg.wasm`);
const baseline = `export default { async fetch(req, env) {
  const r = await fetch(env.TOKEN_URL, { method: 'POST', headers: { Authorization: 'Bearer ' + env.KEY } });
  return new Response((await r.json()).accessToken ? 'ok' : 'no');
} };`;

async function firstRequest(options) {
  const mf = new Miniflare({ modules: true, compatibilityDate: '2025-01-01', bindings: { TOKEN_URL: `${pointUrl}/users/${userId}/access_token`, KEY: apiKey }, ...options });
  const r0 = performance.now();
  await mf.ready;
  const r1 = performance.now();
  const res = await mf.dispatchFetch('http://worker.test/');
  const body = await res.text(); if (body !== 'ok') throw new Error(`no token: ${res.status} ${body.slice(0, 300)}`);
  const r2 = performance.now();
  await mf.dispose();
  return { ready: r1 - r0, firstRequest: r2 - r1 };
}
const rows = [];
for (let i = 0; i < Number(runs); i++) {
  const a = await firstRequest({ scriptPath: `${out}worker.js`, modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }] });
  const b = await firstRequest({ script: baseline });
  rows.push({ authbridgeReady: a.ready, authbridgeFirst: a.firstRequest, baselineReady: b.ready, baselineFirst: b.firstRequest });
}
const median = (k) => rows.map((r) => r[k]).sort((x, y) => x - y)[rows.length >> 1].toFixed(1);
console.log(JSON.stringify({ runs: rows.length, medianMs: Object.fromEntries(Object.keys(rows[0]).map((k) => [k, +median(k)])) }));
