// A misbehaving bridge, seen from a real page in headless Chromium (or WebKitGTK with TEST_BROWSER=webkit): for every fault, the error code the app
// gets, a bound on bridge calls while the app keeps asking, no unhandled rejection or console error, no token
// in any message, and recovery once the bridge heals. Plus: redirects never carry the token to another origin.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { serveStatic } from '../support/static.mjs';
import { launchBrowser } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
let bridge, evil, server, browser, page;
const messages = [];

before(async () => {
  bridge = await startBridge();
  evil = await startBridge();
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures` } });
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on('pageerror', (e) => messages.push(['pageerror', String(e)]));
  // Chromium itself logs failed loads ("Failed to load resource…"): those are the browser's, not the app's.
  page.on('console', (m) => { if (!/^Failed to load resource/.test(m.text())) messages.push([m.type(), m.text()]); });
  await page.goto(`${server.url}/fixtures/hostile.html`);
  await page.evaluate(() => window.ready);
  await page.evaluate(() => {
    window.addEventListener('unhandledrejection', (e) => console.error('unhandled rejection', String(e.reason)));
  });
});
after(async () => { await browser?.close(); await server?.close(); await bridge?.close(); await evil?.close(); });

const script = (key, faults) => fetch(`${bridge.url}/script?key=${key}`, { method: 'POST', body: JSON.stringify(faults) });
let n = 0;

// [name, fault, expected code, max bridge calls in any 4 s window]. The bounds follow from the schedule:
// attempts are at least 0.5 s, 1 s, then 2 s apart (backoff floor, then the caller probe interval), so at
// most 4 in 4 s; a Retry-After of 2 s spaces them 2 s apart (3 in 4 s); a rejection stops all calls.
const WINDOW_MS = 4000;
const busiestWindow = (times) => Math.max(0, ...times.map((t) => times.filter((u) => u >= t && u < t + WINDOW_MS).length));
const CASES = [
  ['500', { kind: 'status', status: 500 }, 'bridge_unavailable', 4],
  ['502 with Retry-After', { kind: 'status', status: 502, retryAfter: '2' }, 'bridge_unavailable', 4],
  ['503 with Retry-After', { kind: 'status', status: 503, retryAfter: '2' }, 'bridge_unavailable', 3],
  ['429 with Retry-After', { kind: 'status', status: 429, retryAfter: '2' }, 'bridge_unavailable', 3],
  ['slower than the timeout', { kind: 'slow', delayMs: 1500 }, 'timeout', 4],
  // Chromium's network stack itself resends a request whose connection was reset before any response, a
  // few times within milliseconds: hits closer than 50 ms count as one attempt of the client, and there may
  // be at most 6 hits per attempt.
  ['connection reset before the response', { kind: 'reset' }, 'network', 4, { browserResends: 6 }],
  ['connection reset mid-body', { kind: 'cut' }, 'network', 4],
  ['truncated JSON', { kind: 'body', body: '{"access_token":"abc","expires_in":36' }, 'invalid_response', 4],
  ['HTML error page with 200', { kind: 'body', body: '<html><body>Oops</body></html>', contentType: 'text/html' }, 'invalid_response', 4],
  ['HTML error page with 502', { kind: 'status', status: 502, body: '<html>Bad gateway</html>', contentType: 'text/html' }, 'bridge_unavailable', 4],
  ['empty 200', { kind: 'body', body: '' }, 'invalid_response', 4],
  ['token already expired', { kind: 'token', exp: -60 }, 'invalid_response', 4],
  ['exp far in the past', { kind: 'token', exp: -10 * 365 * 86400 }, 'invalid_response', 4],
  ['negative expires_in', { kind: 'token', expiresIn: -5 }, 'invalid_response', 4],
  ['zero expires_in', { kind: 'token', expiresIn: 0 }, 'invalid_response', 4],
  ['huge expires_in', { kind: 'token', expiresIn: 1e12 }, 'invalid_response', 4],
  ['string expires_in', { kind: 'token', expiresIn: '3600' }, 'invalid_response', 4],
  ['401', { kind: 'status', status: 401 }, 'refresh_rejected', 1],
  ['403', { kind: 'status', status: 403 }, 'refresh_rejected', 1],
];

// The cases run side by side in one page, each with its own client and bridge key.
describe('bridge faults', { concurrency: true }, () => {
for (const [name, fault, code, bound, { browserResends } = {}] of CASES) {
  test(name, async () => {
    const key = `h${++n}`;
    await script(key, [{ ...fault, count: 10_000 }]);
    const seen = await page.evaluate(async ({ url, key }) => {
      const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storage: 'memory', storageKey: key, autoRefresh: true, bridgeTimeout: 0.5 });
      const events = [];
      auth.on('error', (e) => events.push(e.code));
      auth.on('signedOut', (e) => events.push(`signedOut:${e.reason}`));
      const results = [];
      const t0 = Date.now();
      // The app keeps asking for a token every 100 ms for 6 s.
      while (Date.now() - t0 < 6000) {
        results.push(await auth.accessToken().then(() => 'ok', (e) => `${e.code}|${e.message}|${e.name}`));
        await new Promise((r) => setTimeout(r, 100));
      }
      window[key] = auth;
      return { results, events, status: auth.getSnapshot().status };
    }, { url: bridge.url, key });
    const hits = bridge.stats(key).callTimes;
    const attempts = browserResends ? hits.filter((t, i) => i === 0 || t - hits[i - 1] >= 50) : hits;
    if (browserResends) assert.ok(hits.length <= attempts.length * browserResends, `${hits.length} hits`);
    const calls = busiestWindow(attempts);
    const [firstCode, message, errorName] = seen.results[0].split('|');
    assert.equal(firstCode, code, JSON.stringify(seen.results.slice(0, 3)));
    assert.equal(errorName, 'AuthbridgeError');
    assert.ok(message.length > 5 && !/eyJ|RT-/.test(message), message);
    assert.ok(calls >= 1 && calls <= bound, `${calls} bridge calls in the busiest 4 s (bound ${bound})`);
    if (code === 'refresh_rejected') {
      assert.equal(seen.status, 'signedOut');
      // The client never held a token. A 401 is a first visit without a session: no error, nothing ended. A 403 is
      // the bridge refusing this page (CSRF, CORS): a misconfiguration, reported.
      assert.deepEqual(seen.events, fault.status === 401 ? [] : ['refresh_rejected', 'signedOut:rejected']);
      assert.ok(seen.results.slice(1).every((r) => r.startsWith('signed_out|')));
    }
    // Heal the bridge: the app recovers within a bounded time (after a rejection, only an explicit refresh).
    await script(key, []);
    const recovery = await page.evaluate(async ({ key, rejected }) => {
      const auth = window[key];
      const t0 = Date.now();
      if (rejected) await auth.refresh();
      while (Date.now() - t0 < 5000) {
        if (await auth.accessToken().then(() => true, () => false)) return Date.now() - t0;
        await new Promise((r) => setTimeout(r, 100));
      }
      return null;
    }, { key, rejected: code === 'refresh_rejected' });
    assert.ok(recovery !== null && recovery <= 2500, `recovered in ${recovery} ms`);
    await page.evaluate((key) => window[key].free(), key);
  });
}
});

test('no console output, unhandled rejection or panic in the page through all of it', () => {
  assert.deepEqual(messages, []);
});

test('lenient where it is safe: a JSON token with a wrong content type, exp far in the future', async () => {
  for (const [fault, check] of [
    [{ kind: 'token', expiresIn: 60, contentType: 'text/plain' }, (r) => Math.abs(r.expiresAt - Date.now() - 60_000) < 5000],
    [{ kind: 'token', exp: 1000 * 86400, expiresIn: 60 }, (r) => Math.abs(r.expiresAt - Date.now() - 60_000) < 5000],
  ]) {
    const key = `h${++n}`;
    await script(key, [{ ...fault, count: 1 }]);
    const r = await page.evaluate(async ({ url, key }) => {
      const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storage: 'memory' });
      await auth.accessToken();
      const out = { expiresAt: auth.expiresAt() };
      auth.free();
      return out;
    }, { url: bridge.url, key });
    assert.ok(check(r), JSON.stringify(r));
  }
});

test('a redirect from an API origin to another origin never carries the token', async () => {
  for (const scenario of ['oauth2', 'wazo']) {
    const key = `r${++n}`;
    const out = await page.evaluate(async ({ url, evilUrl, key, scenario }) => {
      const auth = new lib.AuthClient({ tokenUrl: `${url}/token/${scenario}?key=${key}`, apiOrigins: [url], storage: 'memory' });
      const target = `${url}/redirect?to=${encodeURIComponent(`${evilUrl}/api/echo?key=${key}`)}`;
      const r = await auth.fetch(target).then((r) => r.status, (e) => e.name);
      auth.free();
      return r;
    }, { url: bridge.url, evilUrl: evil.url, key, scenario });
    const arrived = evil.stats(key).apiCalls;
    if (scenario === 'oauth2') {
      // Authorization is dropped by the browser on a cross-origin redirect.
      assert.equal(out, 200);
      assert.deepEqual(arrived.map((c) => c.authorization), [null]);
    } else {
      // A custom header would be forwarded, so authbridge refuses the redirect.
      assert.equal(out, 'TypeError');
      assert.deepEqual(arrived, []);
    }
    assert.ok(arrived.every((c) => c.xAuthToken === null && c.authorization === null));
  }
});

test('requests to anything but an allowlisted origin arrive without the token (checked at the servers)', async () => {
  const key = `o${++n}`;
  const port = new URL(bridge.url).port;
  const evilPort = new URL(evil.url).port;
  const statuses = await page.evaluate(async ({ url, key, port, evilPort }) => {
    const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storage: 'memory', storageKey: key });
    const targets = [
      `${url}/api/echo?key=${key}&to=allowed`, // the control: this one carries the token
      new Request(`${url}/api/echo?key=${key}&to=allowed-request`),
      `http://localhost:${port}/api/echo?key=${key}&to=other-host-same-server`,
      `http://127.0.0.1:${evilPort}/api/echo?key=${key}&to=other-port`,
      `//127.0.0.1:${evilPort}/api/echo?key=${key}&to=protocol-relative`,
      new Request(`http://127.0.0.1:${evilPort}/api/echo?key=${key}&to=request-object`),
      `http://user@127.0.0.1:${port}/api/echo?key=${key}&to=userinfo`,
    ];
    const out = [];
    for (const t of targets) out.push(await auth.fetch(t).then((r) => r.status, (e) => e.name));
    auth.free();
    return out;
  }, { url: bridge.url, key, port, evilPort });
  // URLs with credentials are refused by fetch itself; everything else reaches a server.
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 'TypeError']);
  const arrived = [...bridge.stats(key).apiCalls, ...evil.stats(key).apiCalls];
  assert.deepEqual(arrived.map((c) => c.to).sort(),
    ['allowed', 'allowed-request', 'other-host-same-server', 'other-port', 'protocol-relative', 'request-object']);
  for (const c of arrived) {
    const expected = ['allowed', 'allowed-request'].includes(c.to);
    assert.equal(c.authorization !== null, expected, `${c.to}: ${c.authorization}`);
    assert.equal(c.xAuthToken, null);
  }
});

test('a real-time soak: 4 s tokens for 20 s, no timer, listener or memory growth, one bridge call per token', async (t) => {
  const soak = await browser.newPage();
  soak.on('pageerror', (e) => messages.push(['soak pageerror', String(e)]));
  // Counts the timers pending and the listeners registered, from before the library loads.
  await soak.addInitScript(() => {
    const pending = new Set();
    const { setTimeout: set, clearTimeout: clear } = window;
    window.setTimeout = (fn, ms, ...args) => {
      const id = set(() => { pending.delete(id); fn(...args); }, ms);
      pending.add(id);
      return id;
    };
    window.clearTimeout = (id) => { pending.delete(id); clear(id); };
    let listeners = 0;
    const { addEventListener: add, removeEventListener: remove } = EventTarget.prototype;
    EventTarget.prototype.addEventListener = function (...a) { listeners++; return add.apply(this, a); };
    EventTarget.prototype.removeEventListener = function (...a) { listeners--; return remove.apply(this, a); };
    window.probe = () => ({ timers: pending.size, listeners, wasmBytes: window.wasm?.memory.buffer.byteLength });
  });
  await soak.goto(`${server.url}/fixtures/hostile.html`);
  await soak.evaluate(() => window.ready);
  const key = `s${++n}`;
  const out = await soak.evaluate(async ({ url, key }) => {
    const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}&life=4`, apiOrigins: [url], storageKey: key });
    const tokens = new Set();
    auth.on('token', (e) => tokens.add(e.expiresAt));
    const samples = [];
    const statuses = new Set();
    const t0 = Date.now();
    let next = t0 + 5000;
    while (Date.now() - t0 < 20_000) {
      statuses.add((await auth.fetch(`${url}/api/me?key=${key}`)).status);
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() >= next) { samples.push(probe()); next += 5000; }
    }
    auth.free();
    return { samples, statuses: [...statuses], tokens: tokens.size, afterFree: probe() };
  }, { url: bridge.url, key });
  await soak.close();
  const { calls, issued } = bridge.stats(key);
  t.diagnostic(`${calls} bridge calls; every 5 s: ${JSON.stringify(out.samples)}; after free: ${JSON.stringify(out.afterFree)}`);
  assert.deepEqual(out.statuses, [200]);
  // The JWT's exp is a whole second, so a "4 s" token has 3-4 s left; it refreshes 0.6-1.2 s early: one
  // bridge call every 1.8-3.4 s. Each call brought a token that was used.
  assert.ok(calls >= 6 && calls <= 12, `${calls} bridge calls`);
  assert.equal(issued.length, calls);
  assert.equal(out.tokens, calls);
  const [first, ...rest] = out.samples;
  assert.ok(out.samples.length >= 3, JSON.stringify(out.samples));
  // Flat: the same listeners and memory; the timers within one of the first sample's (a sample may fall between a
  // refresh timer firing and the next being armed, or on a bridge call's own timer). A leak grows every sample.
  for (const s of rest) {
    assert.deepEqual({ ...s, timers: 0 }, { ...first, timers: 0 }, `flat after the first 5 s: ${JSON.stringify(out.samples)}`);
    assert.ok(Math.abs(s.timers - first.timers) <= 1, `timers flat after the first 5 s: ${JSON.stringify(out.samples)}`);
  }
  assert.ok(first.timers <= 2, JSON.stringify(first));
  // free() leaves nothing armed and nothing listening.
  assert.equal(out.afterFree.timers, 0);
  assert.equal(out.afterFree.listeners, 0);
});
