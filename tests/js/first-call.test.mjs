// Server runtimes with default options: the first call may be `fetch()`, `accessToken()` or `start()`, with and
// without Web Locks (Deno has them; Node 20 has none), and each gets its token from the bridge. Deno once failed
// the first `fetch()` with "no token" and never called the bridge: it grants a free Web Lock synchronously,
// inside the call the client made from its own callback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { inDeno, inWorkerd } from '../support/runtimes.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/first-call-test/`;
let api;
let n = 0;

before(async () => {
  api = await startBridge();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
});
after(async () => { await api?.close(); });

function check(r, withLocks) {
  const variants = withLocks ? ['locks', 'no locks'] : ['no locks'];
  assert.deepEqual(Object.keys(r).sort(), variants.flatMap((l) => ['fetch', 'accessToken', 'start'].map((f) => `${l} ${f}`)).sort());
  for (const l of variants) {
    assert.equal(r[`${l} fetch`], 'Bearer ', `${l} fetch: ${JSON.stringify(r[`${l} fetch`])}`);
    assert.equal(r[`${l} accessToken`], 'string', `${l} accessToken: ${JSON.stringify(r[`${l} accessToken`])}`);
    assert.equal(r[`${l} start`], 'boolean', `${l} start: ${JSON.stringify(r[`${l} start`])}`);
  }
}

test('Node', async () => {
  const { AuthClient } = await import(`${root}pkg/node.js`);
  const { firstCalls } = await import(`${root}tests/js/fixtures/first-call.js`);
  check(await firstCalls(AuthClient, api.url, `node${++n}`), Boolean(globalThis.navigator?.locks));
});

test('Deno (Web Locks and Web Storage present)', async () => {
  check(await inDeno(out, 'first-call.js', 'firstCalls', [api.url, `deno${++n}`]), true);
});

test('Cloudflare workerd', async () => {
  check(await inWorkerd(out, 'first-call.js', 'firstCalls', [api.url, `workerd${++n}`], '2026-04-01'), false);
});
