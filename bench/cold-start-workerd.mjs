// Cold start in Cloudflare workerd (Miniflare): a fresh workerd per run; the first and second requests to a worker
// that gets a token and calls the API with it through authbridge, against a worker doing the same by hand (the
// same two requests). Both keep what they got for the isolate: the client in authbridge's case (the README's
// "a client created once per isolate"), the token and its expiry by hand. A third request (`?fresh`) does the first
// one's work again on the now warm isolate: a new client (or, by hand, a new token) for that request only, so that
// the first request's cost splits into the work itself and running the code for the first time.
// Usage: node bench/cold-start-workerd.mjs <serverUrl> <userId> <apiKey> [runs]
import { Miniflare } from 'miniflare';
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [serverUrl, userId, apiKey, runs = '5'] = process.argv.slice(2);
const root = fileURLToPath(new URL('../', import.meta.url));
const out = `${root}target/cold-start-workerd/`;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}node_modules`, { recursive: true });
symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
await build({
  stdin: { contents: `import { AuthClient } from 'authbridge';
let auth;
const client = (env) => new AuthClient({ tokenUrl: env.TOKEN_URL, apiOrigins: [new URL(env.API_URL).origin], format: 'point', bridgeHeaders: { Authorization: 'Bearer ' + env.KEY } });
export default { async fetch(req, env) {
  const fresh = new URL(req.url).searchParams.has('fresh');
  const a = fresh ? client(env) : (auth ??= client(env));
  const res = await a.fetch(env.API_URL);
  const body = await res.text();
  if (fresh) a.free();
  return new Response(body);
} };`, resolveDir: out },
  bundle: true, format: 'esm', outfile: `${out}worker.js`, conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm'], nodePaths: [`${out}node_modules`], logLevel: 'error',
});
mkdirSync(`${out}bindgen`, { recursive: true });
copyFileSync(`${root}pkg/bindgen/authbridge_bg.wasm`, `${out}bindgen/authbridge_bg.wasm`);
const byHand = `let token, expiresAt = 0;
export default { async fetch(req, env) {
  if (!token || Date.now() > expiresAt - 60000 || new URL(req.url).searchParams.has('fresh')) {
    const r = await fetch(env.TOKEN_URL, { method: 'POST', headers: { Accept: 'application/json', Authorization: 'Bearer ' + env.KEY } });
    const { accessToken } = await r.json();
    token = accessToken.token.replace(/^Bearer /, '');
    expiresAt = Date.now() + accessToken.expiresIn * 1000;
  }
  const res = await fetch(env.API_URL, { headers: { Authorization: 'Bearer ' + token } });
  return new Response(await res.text());
} };`;

async function twoRequests(options) {
  const mf = new Miniflare({ modules: true, compatibilityDate: '2025-01-01',
    bindings: { TOKEN_URL: `${serverUrl}/users/${userId}/access_token`, API_URL: `${serverUrl}/api`, KEY: apiKey }, ...options });
  const r0 = performance.now();
  await mf.ready;
  const times = [performance.now() - r0];
  for (const url of ['http://worker.test/', 'http://worker.test/', 'http://worker.test/?fresh']) {
    const t0 = performance.now();
    const res = await mf.dispatchFetch(url);
    const body = await res.text();
    if (body !== 'ok') throw new Error(`no authenticated answer: ${res.status} ${body.slice(0, 300)}`);
    times.push(performance.now() - t0);
  }
  await mf.dispose();
  return times;
}
const rows = [];
for (let i = 0; i < Number(runs); i++) {
  // Alternating which goes first, so that drift on a shared machine hits both alike.
  const a = () => twoRequests({ scriptPath: `${out}worker.js`, modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }] });
  const b = () => twoRequests({ script: byHand });
  const [ab, hand] = i % 2 ? [await a(), await b()] : await b().then(async (h) => [await a(), h]);
  rows.push({ authbridgeReady: ab[0], authbridgeFirst: ab[1], authbridgeSecond: ab[2], authbridgeWarm: ab[3],
    byHandReady: hand[0], byHandFirst: hand[1], byHandSecond: hand[2], byHandWarm: hand[3] });
}
const median = (k) => rows.map((r) => r[k]).sort((x, y) => x - y)[rows.length >> 1].toFixed(1);
console.log(JSON.stringify({ runs: rows.length, medianMs: Object.fromEntries(Object.keys(rows[0]).map((k) => [k, +median(k)])) }));
