// The examples in examples/ under Cloudflare workerd (Miniflare), Deno and Node, against the reference bridge's
// mock Point Database: each obtains and refreshes its own user token with the apiKey from its environment.
// Counted at the provider: one token call per expiry, however many requests, sequential or concurrent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { startReferenceBridge } from '../support/reference-bridge.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/edge-test/`;
const API_KEY = 'pk_edge_test_secret';
const USER = 'edge-user';
const LIFETIME = 3;
let bridge;

before(async () => {
  bridge = await startReferenceBridge({ tokenLifetime: LIFETIME, extra: ['--point-api-key', API_KEY] });
  const created = await fetch(`${bridge.url}/users/${USER}`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(created.status, 200);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
});
after(async () => { await bridge?.close(); });

const env = () => ({ POINT_URL: bridge.url, POINT_USER_ID: USER, POINT_API_KEY: API_KEY });
const tokenCalls = async () => (await bridge.stats()).tokenCalls.point ?? 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fault = (status, count) => fetch(`${bridge.url}/test/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'point', status, count }) });

/** The scenario every runtime must pass; `get` performs GET /me on the worker. */
async function scenario(get, start) {
  const seen = new Set();
  const check = ({ status, json }) => {
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.sub, `point|${USER}`);
    seen.add(json.jti);
  };
  // 200 sequential requests over ~5 s: the token expires about twice meanwhile.
  for (let i = 0; i < 200; i++) {
    check(await get());
    await sleep(25);
  }
  // 200 concurrent requests, right after the current token expired.
  await sleep(LIFETIME * 1000 + 100);
  (await Promise.all(Array.from({ length: 200 }, get))).forEach(check);
  const calls = (await tokenCalls()) - start;
  // Every token the provider minted was used, and each only until it neared expiry: one call per expiry.
  assert.equal(calls, seen.size, `token calls ${calls} vs distinct tokens ${seen.size}`);
  assert.ok(calls >= 3 && calls <= 6, `token calls ${calls}`);

  // An upstream 500 burst once the token has expired: bounded retries, a clear 5xx, then recovery.
  await sleep(LIFETIME * 1000 + 100);
  await fault(500, 1000);
  const before = await tokenCalls();
  for (let i = 0; i < 3; i++) {
    const { status, json } = await get();
    assert.equal(status, 502);
    assert.equal(json.error, 'bridge_unavailable');
  }
  const during = (await tokenCalls()) - before;
  assert.ok(during >= 1 && during <= 9, `${during} token calls during the burst (at most 3 attempts per request)`);
  await fault(500, 0);
  const healed = Date.now();
  let status = 0;
  while (status !== 200 && Date.now() - healed < 15_000) {
    status = (await get()).status;
    if (status !== 200) await sleep(250);
  }
  assert.equal(status, 200, 'recovered after the burst');
  return { calls, recoveryMs: Date.now() - healed };
}

async function readPort(child) {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    setTimeout(() => reject(new Error('no port within 20 s')), 20_000);
  });
}

const httpGet = (port) => async () => {
  const r = await fetch(`http://127.0.0.1:${port}/me`);
  return { status: r.status, json: await r.json() };
};

test('Cloudflare workerd (Miniflare)', async () => {
  mkdirSync(`${out}workerd`, { recursive: true });
  // What wrangler does: bundle with the workerd conditions, keep the .wasm as a CompiledWasm module.
  await build({
    entryPoints: [`${root}examples/cloudflare-worker/src/worker.js`], bundle: true, format: 'esm',
    outfile: `${out}workerd/worker.js`, conditions: ['workerd', 'worker', 'browser'], external: ['*.wasm'],
    nodePaths: [`${out}node_modules`], logLevel: 'warning',
  });
  mkdirSync(`${out}workerd/bindgen`, { recursive: true });
  copyFileSync(`${root}pkg/bindgen/authbridge_bg.wasm`, `${out}workerd/bindgen/authbridge_bg.wasm`);
  const t0 = performance.now();
  const mf = new Miniflare({
    modules: true, scriptPath: `${out}workerd/worker.js`, compatibilityDate: '2025-01-01',
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    bindings: env(),
  });
  try {
    const get = async () => {
      const r = await mf.dispatchFetch('http://worker.test/me');
      return { status: r.status, json: await r.json() };
    };
    const start = await tokenCalls();
    await get();
    console.log(`# workerd: first /me (start + compile + first token) ${(performance.now() - t0).toFixed(0)} ms`);
    const r = await scenario(get, start);
    console.log(`# workerd: ${r.calls} token calls, recovered in ${r.recoveryMs} ms`);
  } finally {
    await mf.dispose();
  }
});

test('Deno', async () => {
  const child = spawn(`${root}node_modules/.bin/deno`, ['run', '--allow-net=127.0.0.1', '--allow-env', '--allow-read', '--config', `${root}examples/deno/deno.json`, `${root}examples/deno/main.ts`],
    { env: { ...process.env, ...env(), PORT: '0', DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const r = await scenario(httpGet(await readPort(child)), await tokenCalls());
    console.log(`# deno: ${r.calls} token calls, recovered in ${r.recoveryMs} ms`);
  } finally {
    child.kill();
  }
});

test('Node', async () => {
  mkdirSync(`${out}node`, { recursive: true });
  copyFileSync(`${root}examples/node/server.mjs`, `${out}server.mjs`);
  const child = spawn(process.execPath, [`${out}server.mjs`], { env: { ...process.env, ...env(), PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const r = await scenario(httpGet(await readPort(child)), await tokenCalls());
    console.log(`# node: ${r.calls} token calls, recovered in ${r.recoveryMs} ms`);
  } finally {
    child.kill();
  }
});
