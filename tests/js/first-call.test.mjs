// Server runtimes with default options: the first call may be `fetch()`, `accessToken()` or `start()`, with and
// without Web Locks (Deno and current Node releases have them; Node 20 has none), and each gets its token from the
// bridge. Deno once failed
// the first `fetch()` with "no token" and never called the bridge: it grants a free Web Lock synchronously,
// inside the call the client made from its own callback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

// A current release from npm's `node` package (scripts/install-deps.sh installs it in tests/node-current).
const current = `${root}tests/node-current/node_modules/.bin/node`;
test('Node, current release (navigator.locks present)', { skip: !existsSync(current) && 'run scripts/install-deps.sh --browsers' }, async () => {
  const script = `${out}node-current.mjs`;
  writeFileSync(script, `import { AuthClient } from '${root}pkg/node.js';
import { firstCalls } from '${root}tests/js/fixtures/first-call.js';
if (typeof navigator?.locks?.request !== 'function') throw new Error('this Node has no navigator.locks');
console.log(JSON.stringify(await firstCalls(AuthClient, ...${JSON.stringify([api.url, `node-current${++n}`])})));`);
  const { stdout } = await promisify(execFile)(current, [script]);
  check(JSON.parse(stdout), true);
});

test('Deno (Web Locks and Web Storage present)', async () => {
  check(await inDeno(out, 'first-call.js', 'firstCalls', [api.url, `deno${++n}`]), true);
});

test('Cloudflare workerd', async () => {
  check(await inWorkerd(out, 'first-call.js', 'firstCalls', [api.url, `workerd${++n}`], '2026-04-01'), false);
});
