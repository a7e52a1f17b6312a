// What differs between browser engines, in whichever one the suite runs in (TEST_BROWSER: Chromium by default,
// WebKitGTK, the engine of Safari, with `make test-js-webkit`): the back-forward cache and `pageshow`, a sign-out
// while a tab was away, script-written storage deleted under the client (Safari's ITP caps it at seven days without
// a visit), storage and channel partitioning for a cross-site frame, and the platform features the package needs at
// the README's minimum Safari.
// Timers in background tabs: here (a hidden tab on its own) and in tabs.test.mjs (five tabs of one window). Web Locks
// and BroadcastChannel: here (a page left while holding the lock) and in tabs.test.mjs (takeover when the holder
// closes, sign-out everywhere) and security.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { serveStatic } from '../support/static.mjs';
import { launchBrowser, BROWSER, WEBKIT } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const LIFETIME = 4;
let reference, longLived, bridge, server, browser;
before(async () => {
  reference = await startReferenceBridge({ tokenLifetime: LIFETIME });
  // Tokens that outlive a test: what a tab holds must not simply expire while it is away.
  longLived = await startReferenceBridge({ tokenLifetime: 300 });
  bridge = await startBridge();
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures` } });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await server?.close(); await bridge?.close(); await reference?.close(); await longLived?.close(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const calls = async () => (await reference.stats()).tokenCalls.point ?? 0;

// The demo page, signed in at the reference bridge (point), with a client `auth` (options merged in) and its log.
async function signedInPage(context, options = {}, { at = reference, window } = {}) {
  const page = await (WEBKIT ? context.newPage({ window }) : context.newPage());
  await page.goto(`${at.url}/`);
  await page.evaluate(async () => {
    const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
    const r = await fetch('/session', { method: 'POST', headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }) });
    if (!r.ok) throw new Error(`sign-in ${r.status}`);
  });
  await startClient(page, options);
  return page;
}

// Tab A leaves the page (WebKit keeps it in its back-forward cache: frozen, its BroadcastChannel deaf), tab B signs out
// (revoking the token at the bridge), A comes back. What A's client does next, whether restored or loaded anew.
async function signOutWhileAway(storage) {
  const context = await browser.newContext();
  const key = `away-${storage}`;
  const a = await signedInPage(context, { storage, storageKey: key }, { at: longLived });
  const b = await (WEBKIT ? context.newPage({ window: true }) : context.newPage());
  await b.goto(`${longLived.url}/`);
  await startClient(b, { storage, storageKey: key });
  const token = await a.evaluate(() => auth.accessToken());
  assert.equal(await b.evaluate(() => auth.accessToken()), token);
  await a.goto(`${longLived.url}/favicon.svg`);
  await b.evaluate(() => auth.signOut());
  await a.goBack();
  const restored = await a.evaluate(() => typeof auth !== 'undefined');
  if (WEBKIT) assert.ok(restored, 'WebKit restored the page from its back-forward cache');
  if (!restored) await startClient(a, { storage, storageKey: key });
  await a.waitForTimeout(500);
  const r = await a.evaluate(async (token) => ({
    holds: await auth.accessToken().then((t) => (t === token ? 'the revoked token' : 'another token'), (e) => e.code),
    fetch: await auth.fetch('/api/point/me').then((res) => res.status, (e) => e.code),
    log: log.map((e) => e.t === 'token' ? `token:${e.source}` : e.t === 'signedOut' ? `signedOut:${e.reason}` : `${e.t}:${e.code}`),
  }), token);
  console.log(`# ${BROWSER}, storage '${storage}', ${restored ? 'restored from the back-forward cache' : 'loaded anew'}: ${JSON.stringify(r)}`);
  await context.close();
  return r;
}

async function startClient(page, options) {
  await page.evaluate(async (options) => {
    while (!document.getElementById('version')?.textContent) await new Promise((r) => setTimeout(r, 10));
    const { AuthClient } = await import('/pkg/browser.js');
    const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
    window.log = [];
    window.shows = [];
    addEventListener('pageshow', (e) => shows.push({ persisted: e.persisted, at: Date.now() }));
    window.auth = new AuthClient({ tokenUrl: '/auth/point/token', apiOrigins: [location.origin], bridgeHeaders: { 'X-CSRF-Token': csrf }, autoRefresh: true, ...options });
    auth.on('token', (e) => log.push({ t: 'token', source: e.source, at: Date.now() }));
    auth.on('error', (e) => log.push({ t: 'error', code: e.code }));
    auth.on('signedOut', (e) => log.push({ t: 'signedOut', reason: e.reason }));
    await auth.start();
  }, options);
}

test('the harness sees a page\'s uncaught errors and console errors', async () => {
  const page = await browser.newPage();
  const seen = [];
  page.on('pageerror', (e) => seen.push(`pageerror: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') seen.push(`console: ${m.text()}`); });
  await page.goto(`${server.url}/fixtures/hostile.html`);
  await page.evaluate(() => { setTimeout(() => { throw new Error('thrown in a timer'); }); console.error('said on the console'); });
  await page.waitForTimeout(300);
  assert.ok(seen.includes('pageerror: Error: thrown in a timer'), JSON.stringify(seen));
  assert.ok(seen.includes('console: said on the console'), JSON.stringify(seen));
  await page.close();
});

// WebKit keeps a page it navigates away from in its back-forward cache, scripts frozen (no timer, no bridge call),
// and brings the same page back on Back: its client must notice at `pageshow` that its token expired meanwhile and
// refresh at once, before anyone asks. (Chromium as Playwright launches it has no such cache
// (--disable-back-forward-cache): the page loads anew.)
test('back-forward cache: a page brought back after its token expired refreshes at pageshow', async () => {
  const context = await browser.newContext();
  const page = await signedInPage(context, { storageKey: 'bfcache' });
  const token = await page.evaluate(() => auth.accessToken());
  await page.goto(`${reference.url}/favicon.svg`);
  const away = await calls();
  await sleep(LIFETIME * 1000 + 1500);
  assert.equal(await calls(), away, 'no bridge call while the page was away');
  await page.goBack();
  const restored = await page.evaluate(() => typeof auth !== 'undefined');
  if (WEBKIT) assert.ok(restored, 'WebKit restored the page from its back-forward cache');
  if (!restored) {
    // Loaded anew: a new client, which finds the expired token in sessionStorage and asks the bridge.
    await startClient(page, { storageKey: 'bfcache' });
  }
  const r = await page.evaluate(async () => {
    // Loaded anew, the page's pageshow came before the client's listener.
    const show = shows.at(-1) ?? { persisted: false, at: 0 };
    for (let i = 0; i < 40 && !log.some((e) => e.t === 'token' && e.source === 'bridge' && e.at >= show.at); i++) await new Promise((r) => setTimeout(r, 50));
    const refreshed = log.find((e) => e.t === 'token' && e.source === 'bridge' && e.at >= show.at);
    const me = await auth.fetch('/api/point/me');
    return { show, refreshedAfter: refreshed ? refreshed.at - show.at : null, token: await auth.accessToken(), status: me.status, errors: log.filter((e) => e.t !== 'token') };
  });
  console.log(`# ${BROWSER}: ${restored ? `restored from the back-forward cache (persisted: ${r.show.persisted}), refreshed ${r.refreshedAfter} ms after pageshow` : 'loaded anew (no back-forward cache)'}`);
  if (restored) {
    assert.equal(r.show.persisted, true);
    assert.ok(r.refreshedAfter !== null && r.refreshedAfter < 1000, `refreshed at pageshow, before any request: ${JSON.stringify(r)}`);
  }
  assert.notEqual(r.token, token, 'a fresh token');
  assert.equal(r.status, 200);
  assert.deepEqual(r.errors, []);
  assert.equal((await calls()) - away, 1, 'one bridge call for the expiry');
  await context.close();
});

// storage 'local': tab B's sign-out removed the shared entry. Loaded anew (Chromium here), A's new client finds no
// entry and is signed out. Restored from WebKit's back-forward cache, A's client never heard B's broadcast (nor a
// `storage` event): at `pageshow` (`persisted`) it reads its shared entry again, finds it gone, and checks with its
// bridge as for a peer's sign-out notice (the token is not sent meanwhile); the bridge refuses, and the client is
// signed out before any request. (Found by this test: the client once sent the revoked token to the API first.)
test('back-forward cache: a sign-out in another tab while the page was away reaches it when it comes back (storage local)', async () => {
    const r = await signOutWhileAway('local');
    assert.deepEqual([r.holds, r.fetch], ['signed_out', 'signed_out'], JSON.stringify(r));
  });

// storage 'session' (the default): Web Storage of one tab, which no other tab can clear. A tab that was away from the
// page when another signed out (in WebKit's back-forward cache, or anywhere else) comes back with its own copy of the
// token: its first request with it is refused (the bridge revoked it at sign-out) and the client signs out, in both
// engines. A known limit, in docs/threat-model.md: a provider that cannot revoke (pointservices) would accept that
// token until it expires.
test('a tab away at a sign-out elsewhere (storage session) comes back with its copy of the token: refused at the first request, then signed out', async () => {
  const r = await signOutWhileAway('session');
  assert.deepEqual([r.holds, r.fetch], ['the revoked token', 401], JSON.stringify(r));
  assert.deepEqual(r.log.slice(-2), ['error:refresh_rejected', 'signedOut:rejected'], JSON.stringify(r));
});

// Tab A leaves the page while its refresh holds the origin's Web Lock and waits on a slow bridge. WebKit aborts the
// request, releases the lock and keeps the page in its back-forward cache: tab B refreshes at once (no wait for a
// steal). Back, A's client reports the aborted call as a `network` error (delivered at `pageshow`) and goes on with
// a valid token: no request fails.
test('a page left while its refresh holds the lock: the lock is released at once; back, the page recovers by itself', async () => {
  const context = await browser.newContext();
  const a = await signedInPage(context, { storageKey: 'frozen-holder', bridgeTimeout: 2 }, { at: longLived });
  const b = await (WEBKIT ? context.newPage({ window: true }) : context.newPage());
  await b.goto(`${longLived.url}/`);
  await startClient(b, { storageKey: 'frozen-holder', bridgeTimeout: 2 });
  await fetch(`${longLived.url}/test/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'point', status: 0, count: 1, delayMs: 6000 }) });
  await a.evaluate(() => { auth.refresh().catch(() => {}); });
  await sleep(300);
  await a.goto(`${longLived.url}/favicon.svg`);
  const r = await b.evaluate(async () => {
    const t0 = Date.now();
    const out = await auth.refresh().then(() => 'ok', (e) => e.code);
    return { out, ms: Date.now() - t0, status: (await auth.fetch('/api/point/me')).status };
  });
  assert.equal(r.out, 'ok');
  // With a steal it would be the bridge timeout (2 s) plus 2 s.
  assert.ok(r.ms < 1500, `B refreshed ${r.ms} ms after asking`);
  assert.equal(r.status, 200);
  await a.goBack();
  const restored = await a.evaluate(() => typeof auth !== 'undefined');
  if (WEBKIT) assert.ok(restored, 'WebKit restored the page from its back-forward cache');
  if (!restored) await startClient(a, { storageKey: 'frozen-holder', bridgeTimeout: 2 });
  const back = await a.evaluate(async () => {
    for (let i = 0; i < 60 && !(auth.expiresAt() > Date.now()); i++) await new Promise((r) => setTimeout(r, 50));
    return { status: (await auth.fetch('/api/point/me')).status, log: log.map((e) => (e.t === 'token' ? `token:${e.source}` : `${e.t}:${e.code}`)) };
  });
  console.log(`# ${BROWSER}: B waited ${r.ms} ms for the lock; A ${restored ? 'restored' : 'loaded anew'}: ${back.log.join(', ')}`);
  assert.equal(back.status, 200);
  if (restored) assert.deepEqual(back.log.slice(1).filter((e) => e.startsWith('error:')), ['error:network'], back.log.join(', '));
  await context.close();
});

// A tab alone behind another (no peer to refresh for it): WebKit throttles its timers, so its refresh timer and the
// app's own timers fire late. Every request it makes still carries a valid token (a late timer only moves the
// refresh to the request that needs it), with one bridge call per token.
test('a hidden tab on its own: throttled timers, still a valid token on every request', async () => {
  const context = await browser.newContext();
  // In MiniBrowser a tab opened by WebDriver opens behind the first one, which stays in front.
  const front = await context.newPage();
  await front.goto(`${reference.url}/favicon.svg`);
  const page = await signedInPage(context, { storageKey: 'hidden-alone' });
  const before = await calls();
  await page.evaluate(() => {
    window.api = [];
    window.ticker = setInterval(() => {
      auth.fetch('/api/point/me').then(async (r) => api.push({ status: r.status, at: Date.now() }), (e) => api.push({ error: e.code }));
    }, 200);
  });
  await sleep(12_000);
  const r = await page.evaluate(() => { clearInterval(ticker); return { hidden: document.visibilityState === 'hidden', api, tokens: log.filter((e) => e.t === 'token').length }; });
  const made = (await calls()) - before;
  console.log(`# ${BROWSER}: a tab alone${r.hidden ? ', hidden' : ''}: ${r.api.length} requests in 12 s, ${made} bridge calls, ${r.tokens} tokens`);
  if (WEBKIT) assert.equal(r.hidden, true, 'WebKit hides a tab behind another');
  assert.deepEqual(r.api.filter((a) => a.status !== 200), [], 'every request authorised');
  assert.ok(r.api.length >= 6, `${r.api.length} requests`);
  // 4 s tokens for 12 s: 3 to 5 of them (a late timer may skip one expiry, when no request needed it).
  assert.ok(made >= 2 && made <= 5, `${made} bridge calls`);
  await context.close();
});

// Safari deletes script-written storage (Web Storage, IndexedDB, document.cookie) of a site not visited for seven
// days of use (ITP). The bridge's session is an HttpOnly cookie set by the server, which that cap leaves alone: the
// next visit finds no stored token and gets one from the bridge, without an error.
for (const storage of ['session', 'local']) {
  test(`script-written storage deleted under the client (ITP, storage '${storage}'): the next visit signs in again from the bridge`, async () => {
    const context = await browser.newContext();
    const page = await signedInPage(context, { storage, storageKey: `itp-${storage}` });
    const first = await page.evaluate(() => auth.accessToken());
    await page.evaluate(() => { auth.free(); localStorage.clear(); sessionStorage.clear(); });
    const before = await calls();
    await page.reload();
    await startClient(page, { storage, storageKey: `itp-${storage}` });
    const r = await page.evaluate(async () => ({ status: (await auth.fetch('/api/point/me')).status, token: await auth.accessToken(), log }));
    assert.equal(r.status, 200);
    assert.notEqual(r.token, first);
    assert.deepEqual(r.log.map((e) => e.t === 'token' ? e.source : e.t), ['bridge'], JSON.stringify(r.log));
    assert.equal((await calls()) - before, 1);
    await context.close();
  });
}

// A frame of the same origin under a page of another site (localhost vs 127.0.0.1). WebKit partitions the frame's
// storage, BroadcastChannel and Web Locks by the top-level site: its client never receives the token of a tab where
// the origin is first-party, and refreshes for itself (one bridge call per expiry per partition). Chromium as
// Playwright launches it (--disable-features=ThirdPartyStoragePartitioning) denies the frame Web Storage and shares
// the channel. A same-site frame shares everything.
test('a frame under a page of another site: partitioned in WebKit (no first-party token reaches it, it refreshes for itself)', async () => {
  const context = await browser.newContext();
  const port = new URL(server.url).port;
  const key = `partition-${BROWSER}`;
  const first = await context.newPage();
  await first.goto(`${server.url}/fixtures/partition.html`);
  const token = await first.evaluate(async ({ url, key }) => {
    const lib = await import('/pkg/browser.js');
    await lib.default();
    window.keep = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storageKey: key, storage: 'local' });
    await keep.start();
    return keep.accessToken();
  }, { url: bridge.url, key });
  assert.equal(bridge.stats(key).calls, 1);
  const framed = async (top) => {
    const page = await context.newPage();
    await page.goto(`${top}/fixtures/hostile.html`);
    const r = await page.evaluate(({ src, url, key }) => new Promise((resolve) => {
      const frame = document.createElement('iframe');
      addEventListener('message', (e) => { if (e.source === frame.contentWindow) resolve(e.data); });
      frame.onload = () => frame.contentWindow.postMessage({ url, key, storage: 'local' }, '*');
      frame.src = src;
      document.body.append(frame);
      setTimeout(() => resolve({ error: 'no answer from the frame in 10 s' }), 10_000);
    }), { src: `http://127.0.0.1:${port}/fixtures/partition.html`, url: bridge.url, key });
    await page.close();
    return r;
  };
  const sameSite = await framed(server.url);
  assert.equal(sameSite.error, undefined);
  assert.deepEqual([sameSite.token, sameSite.sources], [token, ['storage']], 'a same-site frame shares storage: the stored token');
  assert.equal(bridge.stats(key).calls, 1);
  const crossSite = await framed(`http://localhost:${port}`);
  assert.equal(crossSite.error, undefined);
  console.log(`# ${BROWSER}: a cross-site frame: token from ${crossSite.sources}, Web Storage ${crossSite.stored === true ? 'partitioned' : crossSite.stored}`);
  assert.equal(crossSite.locks, true, 'Web Locks in the frame');
  if (WEBKIT) {
    // Partitioned: its own storage (where its client stored its own token), channel and locks.
    assert.notEqual(crossSite.token, token, 'the first-party token did not reach the cross-site frame');
    assert.deepEqual([crossSite.sources, crossSite.stored], [['bridge'], true], JSON.stringify(crossSite));
    assert.equal(bridge.stats(key).calls, 2, 'the frame refreshes for itself');
  } else {
    // Chromium as launched here refuses the frame Web Storage (SecurityError: its client keeps the token in memory,
    // without an error) but shares the origin's BroadcastChannel: the token comes from the first-party peer.
    assert.deepEqual([crossSite.token, crossSite.sources, crossSite.stored], [token, ['peer'], 'SecurityError'], JSON.stringify(crossSite));
    assert.equal(bridge.stats(key).calls, 1);
  }
  // The first-party entry is untouched by the frame's own.
  assert.equal(await first.evaluate((key) => JSON.parse(localStorage.getItem(key)).token, key), token);
  await first.evaluate(() => keep.free());
  await context.close();
});

// The README's minimum Safari (16): the module's WebAssembly features all shipped by Safari 15 (validated by
// binaryen with only those enabled), and the JavaScript of the package uses no API or syntax newer than Safari 16.0.
test('the package needs nothing newer than Safari 16: WebAssembly features and the JavaScript it runs', () => {
  const safari15 = ['bulk-memory', 'sign-ext', 'mutable-globals', 'nontrapping-float-to-int', 'reference-types', 'multivalue'];
  execFileSync(`${root}node_modules/.bin/wasm-opt`, [`${root}pkg/bindgen/authbridge_bg.wasm`, '--mvp-features', ...safari15.map((f) => `--enable-${f}`), '-o', '/dev/null'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // What Safari 16.0 lacks, with the version that brought it.
  const newer = {
    'Promise.withResolvers': /Promise\.withResolvers/, 'AbortSignal.any (17.4)': /AbortSignal\.any\b/, 'Object.groupBy (17.4)': /\b(Object|Map)\.groupBy\b/,
    'Array.fromAsync (16.4)': /Array\.fromAsync/, 'String isWellFormed (16.4)': /\.(isWellFormed|toWellFormed)\(/, 'Set methods (17)': /\.(union|intersection|symmetricDifference|isSubsetOf)\(/,
    'RegExp lookbehind (16.4)': /\(\?<[=!]/, 'class static blocks (16.4)': /\bstatic\s*\{/, 'Atomics.waitAsync (16.4)': /Atomics\.waitAsync/,
    'import.meta.resolve (16.4)': /import\.meta\.resolve/, 'Iterator helpers (18.4)': /\bIterator\.(from|prototype)\b/, 'using declarations': /\b(await\s+)?using\s+[A-Za-z_$][\w$]*\s*=/,
    'RegExp v flag (17)': /\/[dgimsuy]*v[dgimsuy]*\.test\(|new RegExp\([^)]*,\s*['"][^'"]*v/,
  };
  // The package's modules: each entry is one file with wasm-bindgen's glue and the crate's JavaScript (its
  // snippets) bundled in (scripts/build-pkg.mjs).
  const files = readdirSync(`${root}pkg`, { recursive: true }).map(String).filter((f) => f.endsWith('.js')).map((f) => `pkg/${f}`);
  assert.ok(['pkg/authbridge.js', 'pkg/browser.js', 'pkg/react.js', 'pkg/react-browser.js'].every((f) => files.includes(f)), files.join(' '));
  for (const f of ['pkg/authbridge.js', 'pkg/browser.js']) {
    assert.match(readFileSync(`${root}${f}`, 'utf8'), /function makeFetch\(/, `${f} holds js/fetch.js`);
  }
  const found = [];
  for (const f of files) {
    const text = readFileSync(`${root}${f}`, 'utf8');
    for (const [name, re] of Object.entries(newer)) if (re.test(text)) found.push(`${f}: ${name}`);
  }
  assert.deepEqual(found, []);
  // The newest API it needs: AbortSignal.timeout, Safari 16.0.
  assert.match(readFileSync(`${root}pkg/authbridge.js`, 'utf8'), /AbortSignal\.timeout\(/);
});
