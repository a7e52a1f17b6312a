// A token never follows a redirect to an origin outside apiOrigins in the server runtimes: Node, Deno, and
// Cloudflare workerd at a compatibility date before 2026 (where workerd forwards even Authorization across
// origins, and rejects `redirect: 'error'`) and at a 2026 one. Checked at the receiving server. (Chromium,
// Firefox and WebKitGTK: tests/web.rs and tests/js/security.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { inDeno, inWorkerd } from '../support/runtimes.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/redirect-test/`;
let api, evil;
let n = 0;

before(async () => {
  api = await startBridge();
  evil = await startBridge();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
});
after(async () => { await api?.close(); await evil?.close(); });

function check(results, key) {
  const arrived = evil.stats(key).apiCalls;
  for (const c of arrived) assert.ok(c.authorization === null && c.xAuthToken === null, `token at the other origin: ${JSON.stringify(c)}`);
  // Redirects the caller wanted followed were followed (without the token), for both headers.
  for (const s of ['oauth2', 'wazo']) {
    for (const mode of ['undefined', 'follow']) {
      assert.ok(arrived.some((c) => c.to === `${s}-${mode}-string`), `${s} ${mode}: followed (${JSON.stringify(results)})`);
    }
    assert.equal(results[`${s} manual string`], 302);
    assert.ok(!arrived.some((c) => c.to.startsWith(`${s}-error`) || c.to.startsWith(`${s}-manual`)));
    assert.equal(results[`${s} same-origin`], 200);
    assert.equal(results[`${s} same-origin carried`], true, `${s}: the token is re-attached within the API origin`);
  }
}

test('Node', async () => {
  const key = `node${++n}`;
  const { AuthClient } = await import(`${root}pkg/node.js`);
  const { probe } = await import(`${root}tests/js/fixtures/redirect-probe.js`);
  check(await probe(AuthClient, api.url, evil.url, key), key);
});

test('Deno', async () => {
  const key = `deno${++n}`;
  check(await inDeno(out, 'redirect-probe.js', 'probe', [api.url, evil.url, key]), key);
});

for (const compatibilityDate of ['2025-01-01', '2026-04-01']) {
  test(`Cloudflare workerd, compatibility date ${compatibilityDate}`, async () => {
    const key = `workerd${++n}`;
    check(await inWorkerd(out, 'redirect-probe.js', 'probe', [api.url, evil.url, key], compatibilityDate), key);
  });
}

// The package's browser build (browser.js, what the `browser` and `worker` conditions give) has no by-hand code: should
// a server resolve it (a test runner under a DOM shim, say), a request with the token follows no redirect at all,
// within the API origin or out of it, and the redirect is the caller's answer.
test('the browser build on a server runtime (Node) follows no redirect: the redirect is the answer', async () => {
  const key = `browser-build${++n}`;
  const lib = await import(`${root}pkg/browser.js`);
  lib.initSync({ module: readFileSync(`${root}pkg/bindgen-browser/authbridge_bg.wasm`) });
  const results = {};
  for (const scenario of ['oauth2', 'wazo']) {
    const auth = new lib.AuthClient({ tokenUrl: `${api.url}/token/${scenario}?key=${key}`, apiOrigins: [api.url], storage: 'memory', autoRefresh: false });
    for (const mode of [undefined, 'follow', 'manual', 'error']) {
      for (const kind of ['string', 'request', 'own header']) {
        const target = `${evil.url}/api/echo?key=${key}&to=${scenario}-${mode}-${kind}`;
        const hop = `${api.url}/redirect?to=${encodeURIComponent(target)}`;
        const init = { ...(mode === undefined ? {} : { redirect: mode }), ...(kind === 'own header' ? { headers: { Authorization: 'Basic Y2FsbGVyOnNlY3JldA==' } } : {}) };
        const call = kind === 'request' ? auth.fetch(new Request(hop), init) : auth.fetch(hop, init);
        results[`${scenario} ${mode} ${kind}`] = await call.then((r) => r.status, (e) => e.name);
      }
    }
    const home = `${api.url}/api/echo?key=${key}&to=${scenario}-same-origin`;
    results[`${scenario} same-origin`] = await auth.fetch(`${api.url}/redirect?to=${encodeURIComponent(home)}`).then((r) => r.status);
    auth.free();
  }
  assert.deepEqual(evil.stats(key).apiCalls, [], 'nothing reached the other origin');
  assert.ok(!api.stats(key).apiCalls.some((c) => c.to === 'oauth2-same-origin' || c.to === 'wazo-same-origin'), 'no redirect followed within the API origin either');
  for (const [call, status] of Object.entries(results)) assert.equal(status, 302, `${call}: ${JSON.stringify(results)}`);
});
