// The second security review's attacks (tests/js/fixtures/security-probe.js) in every runtime: headless
// Chromium, Node, Deno and Cloudflare workerd at a compatibility date before 2026 (which forwards Authorization
// across origins and rejects `redirect: 'error'`) and after. Each is checked at the receiving server as well as
// by what the client reported: no bridge header, cookie, caller credential or token reaches the other origin; a
// bridge redirect is an `invalid_response`; signOut() says whether the bridge confirmed; a 401 from elsewhere
// costs no bridge call; options planted on a prototype are never read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { inDeno, inPage, inWorkerd } from '../support/runtimes.mjs';
import { BROWSER } from '../support/browser.mjs';
import { serveStatic } from '../support/static.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/security-runtimes-test/`;
let api, evil, server;
let n = 0;

before(async () => {
  api = await startBridge();
  evil = await startBridge();
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures` } });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
});
after(async () => { await api?.close(); await evil?.close(); await server?.close(); });

function check(r, key, browser) {
  const say = (name) => `${name}: ${JSON.stringify(r[name])}`;
  // 1. The bridge's redirect is an error naming it, and nothing reached the other origin.
  for (const code of [302, 307]) {
    const e = r[`bridge redirect ${code}`];
    assert.equal(e.code, 'invalid_response', say(`bridge redirect ${code}`));
    assert.match(e.message, browser ? /redirect \(its target hidden by the browser\)/ : new RegExp(`redirect \\(HTTP ${code} to ${evil.url}\\)`), say(`bridge redirect ${code}`));
  }
  assert.equal(r['bridge redirect: token calls at the other origin'], 0);
  assert.equal(evil.stats(key).lastBridgeHeaders, undefined, 'no bridge header at the other origin');
  // 6. signOut(): resolves only when the bridge confirmed; the local session ends either way.
  assert.deepEqual(r['signOut confirmed'], { ok: 'undefined', snapshot: 'signedOut', expiresAt: null });
  for (const [name, code, status] of [['503', 'bridge_unavailable', 503], ['unreachable', 'network', null], ['redirect', 'invalid_response', null]]) {
    const s = r[`signOut ${name}`];
    assert.equal(s.code, code, say(`signOut ${name}`));
    assert.equal(s.status, status, say(`signOut ${name}`));
    assert.equal(s.snapshot, 'signedOut', say(`signOut ${name}`));
    assert.equal(s.expiresAt, null, say(`signOut ${name}`));
    if (code === 'network') assert.ok(s.cause, `a network error carries its cause: ${say(`signOut ${name}`)}`);
  }
  assert.equal(r['signOut redirect: revokes at the other origin'], 0);
  // 3, 4. Nothing of the caller's credentials, and no token, at the other origin.
  const arrived = evil.stats(key).apiCalls;
  for (const c of arrived) {
    assert.ok(c.authorization === null && c.xAuthToken === null && c.cookie === null && c.proxyAuthorization === null, `credentials at the other origin: ${JSON.stringify(c)}`);
  }
  for (const code of [302, 307]) {
    assert.deepEqual(r[`credentials ${code}`], { ok: 'number' }, say(`credentials ${code}`));
    assert.ok(arrived.some((c) => c.to === `credentials ${code}`), `credentials ${code}: the redirect was followed`);
  }
  assert.ok(arrived.some((c) => c.to === 'own'), 'own header: the redirect was followed');
  if (!browser) assert.ok(arrived.some((c) => c.to === 'shim'), 'shim: the redirect was followed');
  // 7. A 401 from another origin: the token is kept (no bridge call).
  assert.deepEqual(r['401 elsewhere'], { statuses: [401], bridgeCalls: 0 });
  // 2. Planted options are never read.
  for (const [name, outcome] of Object.entries(r.pollution)) {
    if (name.startsWith('Array.prototype')) assert.match(outcome, /apiOrigins/, `${name}: a hole is no origin`);
    else if (name === 'Object.prototype.token (format)') assert.match(outcome, /needs a `token` JSON pointer/, name);
    else assert.equal(outcome, 'ok', `${name}: ${outcome}`);
  }
  assert.deepEqual(r['planted revokeUrl'], { ok: 'undefined' });
  assert.equal(r['planted revokeUrl: revokes at the other origin'], 0);
  assert.equal(r['planted expires_in: seconds left'], null, 'an opaque token without expires_in has no expiry');
}

test(BROWSER, async () => {
  const key = `${BROWSER}${++n}`;
  check(await inPage(server, 'security-probe.js', 'securityProbe', [api.url, evil.url, key]), key, true);
});

test('Node', async () => {
  const key = `node${++n}`;
  const { AuthClient } = await import(`${root}pkg/node.js`);
  const { securityProbe } = await import(`${root}tests/js/fixtures/security-probe.js`);
  check(await securityProbe(AuthClient, api.url, evil.url, key), key, false);
});

test('Deno', async () => {
  const key = `deno${++n}`;
  check(await inDeno(out, 'security-probe.js', 'securityProbe', [api.url, evil.url, key]), key, false);
});

for (const compatibilityDate of ['2025-01-01', '2026-04-01']) {
  test(`Cloudflare workerd, compatibility date ${compatibilityDate}`, async () => {
    const key = `workerd${++n}`;
    check(await inWorkerd(out, 'security-probe.js', 'securityProbe', [api.url, evil.url, key], compatibilityDate), key, false);
  });
}
