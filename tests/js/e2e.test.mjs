// End to end in headless Chromium against the reference bridge and its mock providers: for each provider,
// sign in → API call → refresh before expiry → calls keep working → sign out revokes; then nothing but the
// short-lived access token may be found in Web Storage, JS-readable cookies, IndexedDB or Cache Storage.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchChromium } from '../support/chromium.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
let bridge, browser;
before(async () => {
  bridge = await startReferenceBridge({ tokenLifetime: 4 });
  browser = await launchChromium();
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

function assertOnlyAccessToken(found, provider, token) {
  const everything = JSON.stringify(found);
  for (const secret of ['refresh', 'AMf-', 'lovelace', 'hopper', 'pk_demo', 'password']) {
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
    assert.deepEqual(Object.keys(stored), ['token', 'expiresAt', 'header']);
    assert.equal(stored.token, token);
  }
}

for (const provider of ['point', 'pointservices', 'airfocus', 'wazo']) {
  test(`${provider}: sign in, call, refresh before expiry, sign out`, async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${bridge.url}/`);
    const before = (await bridge.stats()).tokenCalls[provider] ?? 0;
    const first = await page.evaluate(async (provider) => {
      const { AuthClient } = await import('/pkg/authbridge.js');
      const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
      const signIn = await fetch('/session', { method: 'POST', headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'ada', password: 'lovelace', provider }) });
      if (!signIn.ok) throw new Error(`sign-in ${signIn.status}`);
      window.events = [];
      window.auth = new AuthClient({ tokenUrl: `/auth/${provider}/token`, apiOrigins: [location.origin], storageKey: `e2e-${provider}`,
        bridgeHeaders: { 'X-CSRF-Token': csrf }, autoRefresh: true });
      auth.on('token', (e) => events.push({ at: Date.now(), source: e.source, expiresAt: e.expiresAt }));
      auth.on('error', (e) => events.push({ error: e.code }));
      await auth.start();
      const me = await auth.fetch(`/api/${provider}/me`);
      return { status: me.status, token: await auth.accessToken(), expiresAt: auth.expiresAt() };
    }, provider);
    assert.equal(first.status, 200);
    assertOnlyAccessToken(await scanStorage(page), provider, first.token);

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
      assertOnlyAccessToken(await scanStorage(page), provider, later.token);
    } else {
      assert.equal(first.expiresAt, null, 'airfocus tokens do not expire');
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
    assertOnlyAccessToken(await scanStorage(page), provider, null);
    const calls = ((await bridge.stats()).tokenCalls[provider] ?? 0) - before;
    // Sign-in upstream call (pointservices, wazo, airfocus) plus one per token.
    assert.ok(calls >= 1 && calls <= 4, `${provider}: ${calls} provider token calls`);
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
  await page.screenshot({ path: `${root}test-results/demo.png`, fullPage: true });
  await page.close();
});
