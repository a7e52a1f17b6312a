// End to end in headless Chromium (or WebKitGTK with TEST_BROWSER=webkit, tests/support/browser.mjs) against the
// reference bridge and its mock providers: for each provider, sign in → API call → refresh before expiry → a failed
// refresh → sign out revokes → sign in again → the bridge rejects (refresh token expired or session gone). After every step, nothing but the short-lived
// access token may be found in Web Storage, JS-readable cookies, IndexedDB or Cache Storage, and none of the
// secrets the bridge ever held (refresh tokens, the apiKey, passwords) anywhere a script can read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchBrowser, BROWSER } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
let bridge, browser;
before(async () => {
  bridge = await startReferenceBridge({ tokenLifetime: 4 });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await bridge?.close(); });

// Everything a script on the page can read that could hold a secret.
async function scanStorage(page) {
  return page.evaluate(async () => ({
    local: Object.fromEntries(Object.entries(localStorage)),
    session: Object.fromEntries(Object.entries(sessionStorage)),
    cookies: document.cookie,
    indexedDB: (await indexedDB.databases()).map((d) => d.name),
    caches: await caches.keys(),
  }));
}

async function assertOnlyAccessToken(page, provider, token) {
  const found = await scanStorage(page);
  const everything = JSON.stringify(found);
  const { secrets } = await bridge.stats();
  assert.ok(secrets.length >= 3, 'the bridge lists its secrets');
  for (const secret of [...secrets, 'refresh', 'password']) {
    assert.ok(!everything.includes(secret), `${provider}: "${secret}" found in ${everything}`);
  }
  assert.deepEqual(found.local, {}, provider);
  assert.deepEqual(found.indexedDB, [], provider);
  assert.deepEqual(found.caches, [], provider);
  assert.match(found.cookies, /^(authbridge_csrf=[0-9a-f]+)?$/, `${provider}: only the CSRF cookie is JS-readable`);
  const entries = Object.entries(found.session);
  if (token === null) {
    assert.deepEqual(entries, [], `${provider}: storage empty after sign-out`);
  } else {
    assert.equal(entries.length, 1, provider);
    const stored = JSON.parse(entries[0][1]);
    assert.deepEqual(Object.keys(stored), ['token', 'expiresAt', 'header', 'client']);
    assert.equal(stored.token, token);
  }
}

const post = (path, body) =>
  fetch(`${bridge.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

// In the page: sign in at the bridge with a password, then start a client for the provider.
async function signIn(provider) {
  // The demo page initialises the module; its version label appears once that is done.
  while (!document.getElementById('version')?.textContent) await new Promise((r) => setTimeout(r, 10));
  const { AuthClient } = await import('/pkg/browser.js');
  const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
  const response = await fetch('/session', { method: 'POST', headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ada', password: 'lovelace', provider }) });
  if (!response.ok) throw new Error(`sign-in ${response.status}`);
  window.auth?.free();
  window.events = [];
  window.auth = new AuthClient({ tokenUrl: `/auth/${provider}/token`, apiOrigins: [location.origin], storageKey: `e2e-${provider}`,
    bridgeHeaders: { 'X-CSRF-Token': csrf }, autoRefresh: true });
  auth.on('token', (e) => events.push({ at: Date.now(), source: e.source, expiresAt: e.expiresAt }));
  auth.on('error', (e) => events.push({ error: e.code }));
  auth.on('signedOut', (e) => events.push({ signedOut: e.reason }));
  await auth.start();
}

for (const provider of ['point', 'pointservices', 'airfocus', 'wazo']) {
  test(`${provider}: sign in, call, refresh before expiry, a failed refresh, sign out, rejection`, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${bridge.url}/`);
    const before = (await bridge.stats()).tokenCalls[provider] ?? 0;
    await page.evaluate(signIn, provider);
    const first = await page.evaluate(async (provider) => {
      const me = await auth.fetch(`/api/${provider}/me`);
      return { status: me.status, token: await auth.accessToken(), expiresAt: auth.expiresAt() };
    }, provider);
    assert.equal(first.status, 200);
    await assertOnlyAccessToken(page, provider, first.token);

    if (provider !== 'airfocus') {
      // A 4 s token refreshes 0.8-1.2 s before it expires; wait past its expiry.
      await page.waitForTimeout(first.expiresAt - Date.now() + 300);
      const later = await page.evaluate(async (provider) => {
        const me = await auth.fetch(`/api/${provider}/me`);
        return { status: me.status, token: await auth.accessToken(), events };
      }, provider);
      assert.equal(later.status, 200);
      assert.notEqual(later.token, first.token, 'a new token');
      const refresh = later.events.filter((e) => e.source === 'bridge')[1];
      assert.ok(refresh && refresh.at < first.expiresAt, `refreshed before expiry: ${JSON.stringify(later.events)}`);
      assert.ok(!later.events.some((e) => e.error), JSON.stringify(later.events));
      await assertOnlyAccessToken(page, provider, later.token);
    } else {
      assert.equal(first.expiresAt, null, 'airfocus tokens do not expire');
    }

    if (provider !== 'airfocus') {
      // The provider fails once: refresh() reports it, the still-valid token stays in use and in storage.
      await post('/test/fault', { provider, status: 500, count: 1 });
      const failed = await page.evaluate(async () => {
        const before = await auth.accessToken();
        const code = await auth.refresh().then(() => 'ok', (e) => e.code);
        return { code, same: (await auth.accessToken()) === before, token: before };
      });
      assert.deepEqual([failed.code, failed.same], ['bridge_unavailable', true]);
      await assertOnlyAccessToken(page, provider, failed.token);
    }

    const out = await page.evaluate(async (provider) => {
      const token = await auth.accessToken();
      const header = provider === 'wazo' ? 'X-Auth-Token' : 'Authorization';
      const value = provider === 'wazo' ? token : `Bearer ${token}`;
      await auth.signOut();
      const old = await fetch(`/api/${provider}/me`, { headers: { [header]: value } });
      const afterSignOut = await auth.fetch(`/api/${provider}/me`).then((r) => r.status, (e) => e.code);
      const bridgeAgain = await fetch(`/auth/${provider}/token`, { method: 'POST', headers: { 'x-csrf-token': document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1] } });
      return { old: old.status, afterSignOut, bridgeAgain: bridgeAgain.status };
    }, provider);
    // pointservices documents no revocation endpoint: its access token lives out its (short) lifetime.
    assert.equal(out.old, provider === 'pointservices' ? 200 : 401, 'the old token at the API after sign-out');
    assert.equal(out.afterSignOut, 'signed_out');
    assert.equal(out.bridgeAgain, 401, 'the bridge session is over');
    await assertOnlyAccessToken(page, provider, null);
    const calls = ((await bridge.stats()).tokenCalls[provider] ?? 0) - before;
    // Sign-in upstream call (pointservices, wazo, airfocus) plus one per token, plus the failed one.
    assert.ok(calls >= 1 && calls <= 5, `${provider}: ${calls} provider token calls`);

    // Signed in again, the bridge then refuses: the provider's refresh token expired (pointservices at
    // midnight Eastern, a deleted Wazo refresh token), Point rejects the apiKey call, or the bridge session
    // is gone (airfocus). The app is signed out and storage is empty.
    await page.evaluate(signIn, provider);
    await page.evaluate(() => auth.accessToken());
    if (provider === 'pointservices' || provider === 'wazo') await post('/test/expire-refresh', { provider });
    else if (provider === 'point') await post('/test/fault', { provider, status: 401, count: 1 });
    else await context.clearCookies({ name: 'authbridge_session' });
    const rejected = await page.evaluate(async () => {
      const code = await auth.refresh().then(() => 'ok', (e) => e.code);
      return { code, signedOut: events.some((e) => e.signedOut === 'rejected'), next: await auth.accessToken().catch((e) => e.code) };
    });
    assert.deepEqual(rejected, { code: 'refresh_rejected', signedOut: true, next: 'signed_out' });
    await assertOnlyAccessToken(page, provider, null);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

test('the demo page: sign in, call the API, watch a refresh (screenshot artifact)', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  await page.goto(`${bridge.url}/`);
  await page.selectOption('#provider', 'point');
  await page.click('#signin');
  await page.waitForSelector('#log li');
  await page.click('#call');
  await page.waitForTimeout(4500);
  await page.click('#call');
  await page.waitForTimeout(300);
  const log = await page.locator('#log').innerText();
  assert.match(log, /GET \/api\/point\/me → 200/);
  assert.ok((log.match(/token from bridge/g) ?? []).length >= 2, log);
  mkdirSync(`${root}test-results`, { recursive: true });
  await page.screenshot({ path: `${root}test-results/demo${BROWSER === 'chromium' ? '' : `-${BROWSER}`}.png`, fullPage: true });
  await page.close();
});
