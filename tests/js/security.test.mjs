// The attacks of the adversarial review, replayed against the built package in headless Chromium (and in WebKitGTK
// with TEST_BROWSER=webkit): same-origin scripts on the BroadcastChannel, two clients on one page, redirects,
// hostile `init` objects and re-entrant listeners, and tokens left in wasm memory. Each test failed before its defence existed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { serveStatic } from '../support/static.mjs';
import { launchBrowser } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
let bridge, other, server, browser, context;
const errors = [];
let n = 0;

before(async () => {
  bridge = await startBridge();
  other = await startBridge();
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures` } });
  browser = await launchBrowser();
  context = await browser.newContext();
});
after(async () => { await browser?.close(); await server?.close(); await bridge?.close(); await other?.close(); });

async function openPage() {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
  await page.goto(`${server.url}/fixtures/hostile.html`);
  await page.evaluate(() => window.ready);
  return page;
}

test('a script that never loaded authbridge gets no token by asking on the channel', async () => {
  const page = await openPage();
  const key = `ask${++n}`;
  const heard = await page.evaluate(async ({ url, key }) => {
    const out = {};
    for (const storage of ['memory', 'session']) {
      const storageKey = `${key}-${storage}`;
      const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storage, storageKey });
      await auth.start();
      const spy = new BroadcastChannel(`authbridge:${storageKey}`);
      const got = [];
      spy.onmessage = (e) => got.push(e.data);
      // Without the client's identity, and with every identity a script could guess: the memory client's own.
      spy.postMessage({ type: 'ask' });
      const client = JSON.parse(sessionStorage.getItem(`${key}-session`) ?? '{}').client;
      if (client) spy.postMessage({ type: 'ask', client });
      await new Promise((r) => setTimeout(r, 300));
      out[storage] = got.map((m) => m.type);
      spy.close();
      auth.free();
    }
    return out;
  }, { url: bridge.url, key });
  // A memory client never hands its token out; a session client answers only its own identity (its token is in
  // sessionStorage anyway, readable by the same scripts).
  assert.deepEqual(heard.memory, []);
  assert.deepEqual(heard.session, ['token']);
  await page.close();
});

test('forged token and signedOut messages: no fixation, no header switch, no refresh switched off, no sign-out', async () => {
  const page = await openPage();
  const key = `forge${++n}`;
  const r = await page.evaluate(async ({ url, key }) => {
    const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storageKey: key, autoRefresh: true });
    const events = [];
    auth.on('token', (e) => events.push(`token:${e.source}`));
    auth.on('signedOut', (e) => events.push(`signedOut:${e.reason}`));
    await auth.start();
    const mine = await auth.accessToken();
    const stored = sessionStorage.getItem(key);
    const { client } = JSON.parse(stored);
    const spy = new BroadcastChannel(`authbridge:${key}`);
    const exp = Date.now() + 86_400_000;
    const forged = (entry) => spy.postMessage({ type: 'token', client, entry: JSON.stringify({ client, ...entry }) });
    forged({ token: 'attacker-no-expiry', expiresAt: null, header: 'Authorization' });
    forged({ token: 'attacker-custom-header', expiresAt: exp, header: 'X-Auth-Token' });
    forged({ token: 'attacker-other-header', expiresAt: exp, header: 'Cookie' });
    spy.postMessage({ type: 'token', client: 'someone-else', entry: JSON.stringify({ client: 'someone-else', token: 'x', expiresAt: exp, header: 'Authorization' }) });
    await new Promise((r) => setTimeout(r, 200));
    const afterTokens = { token: await auth.accessToken(), stored: sessionStorage.getItem(key), next: auth.nextRefreshAt() };
    // A flood of forged sign-outs: the client checks with its bridge (at most once per 2 s) and stays signed in.
    for (let i = 0; i < 50; i++) spy.postMessage({ type: 'signedOut', client });
    await new Promise((r) => setTimeout(r, 500));
    const afterSignOut = { token: await auth.accessToken().catch((e) => e.code), next: auth.nextRefreshAt() };
    spy.close();
    auth.free();
    return { mine, stored, afterTokens, afterSignOut, events };
  }, { url: bridge.url, key });
  assert.equal(r.afterTokens.token, r.mine, 'the forged tokens were not adopted');
  assert.equal(r.afterTokens.stored, r.stored, 'nothing forged was written to storage');
  assert.ok(r.afterTokens.next !== null, 'refreshing is still scheduled');
  assert.ok(!r.events.some((e) => e.startsWith('signedOut')), JSON.stringify(r.events));
  assert.ok(typeof r.afterSignOut.token === 'string' && r.afterSignOut.token.startsWith('eyJ'), JSON.stringify(r.afterSignOut));
  assert.notEqual(r.afterSignOut.next, null);
  // One check with the bridge for 50 notices (plus the first token).
  assert.equal(bridge.stats(key).calls, 2);
  await page.close();
});

test('a far-future expiry from a peer or a planted entry never pins a forged token', async () => {
  const page = await openPage();
  const key = `pin${++n}`;
  const r = await page.evaluate(async ({ url, key }) => {
    const YEAR_5138 = 99_999_999_999_999;
    const options = { tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storageKey: key, autoRefresh: true };
    // A same-origin page without authbridge posts a token that "expires" in 5138 to a client of one-hour tokens.
    const auth = new lib.AuthClient(options);
    await auth.start();
    const mine = await auth.accessToken();
    const stored = sessionStorage.getItem(key);
    const { client } = JSON.parse(stored);
    const spy = new BroadcastChannel(`authbridge:${key}`);
    const entry = (token, expiresAt) => JSON.stringify({ client, token, expiresAt, header: 'Authorization' });
    spy.postMessage({ type: 'token', client, entry: entry('forged-5138', YEAR_5138) });
    spy.postMessage({ type: 'token', client, entry: entry('forged-5h', Date.now() + 5 * 3_600_000) });
    await new Promise((r) => setTimeout(r, 200));
    const peer = { token: await auth.accessToken(), stored: sessionStorage.getItem(key), next: auth.nextRefreshAt() };
    spy.close();
    auth.free();
    // A planted entry, restored at the next page load.
    sessionStorage.setItem(key, entry('planted-5138', YEAR_5138));
    const reloaded = new lib.AuthClient(options);
    await reloaded.start();
    const reload = { token: await reloaded.accessToken(), next: reloaded.nextRefreshAt(), expiresAt: reloaded.expiresAt() };
    reloaded.free();
    return { mine, stored, peer, reload, now: Date.now() };
  }, { url: bridge.url, key });
  const twoDays = 2 * 86_400_000;
  assert.equal(r.peer.token, r.mine, 'the forged tokens were not adopted');
  assert.equal(r.peer.stored, r.stored, 'nothing forged was written to storage');
  assert.ok(r.peer.next < r.now + twoDays, `next refresh ${new Date(r.peer.next).toISOString()}`);
  assert.notEqual(r.reload.token, 'planted-5138', 'the planted entry was not restored');
  assert.ok(r.reload.token.startsWith('eyJ'), r.reload.token);
  assert.ok(r.reload.next < r.now + twoDays && r.reload.expiresAt < r.now + twoDays, JSON.stringify(r.reload));
  await page.close();
});

test('two clients for different APIs on one page never swap tokens: stored, restored, shared across tabs', async () => {
  const a = await openPage();
  const b = await openPage();
  const key = `two${++n}`;
  const make = `(url, key, suffix, opts = {}) => new lib.AuthClient({ tokenUrl: url + '/token/oauth2?key=' + key + suffix, apiOrigins: [url], ...opts })`;
  const run = (page, sameKey) => page.evaluate(async ({ api1, api2, key, make, sameKey }) => {
    const client = eval(make);
    const opts = sameKey ? { storageKey: `${key}-shared` } : {};
    const c1 = client(api1, key, '-1', opts);
    const c2 = client(api2, key, '-2', opts);
    await c1.start();
    await c2.start();
    const echo = async (c, api, to) => (await (await c.fetch(`${api}/api/echo?key=${key}-${to}&to=${to}`)).json()).authorization;
    const out = { sent1: await echo(c1, api1, 'api1'), sent2: await echo(c2, api2, 'api2'), t1: await c1.accessToken(), t2: await c2.accessToken() };
    c1.free();
    c2.free();
    // A reload: new clients restore their own entries.
    const r1 = client(api1, key, '-1', opts);
    const r2 = client(api2, key, '-2', opts);
    await r1.start();
    await r2.start();
    out.r1 = await r1.accessToken();
    out.r2 = await r2.accessToken();
    out.keys = Object.keys(sessionStorage).filter((k) => k.startsWith('authbridge.') || k === `${key}-shared`);
    r1.free();
    r2.free();
    return out;
  }, { api1: bridge.url, api2: other.url, key, make, sameKey });
  for (const sameKey of [false, true]) {
    const r = await run(a, sameKey);
    assert.notEqual(r.t1, r.t2);
    assert.equal(r.sent1, `Bearer ${r.t1}`);
    assert.equal(r.sent2, `Bearer ${r.t2}`);
    if (!sameKey) {
      // Default keys derive from each client's identity: two entries, each restored by its own client.
      assert.equal(r.keys.length, 2, JSON.stringify(r.keys));
      assert.equal(r.r1, r.t1);
      assert.equal(r.r2, r.t2);
    } else {
      // One key shared by mistake: each client refuses the other's entry and asks its own bridge.
      assert.notEqual(r.r1, r.t2);
      assert.notEqual(r.r2, r.t1);
    }
  }
  // Another tab, default keys: each client gets its own token from its peer in tab a (sessionStorage is per tab).
  const tokens = await a.evaluate(async ({ api1, api2, key, make }) => {
    const client = eval(make);
    window.keep = [client(api1, key, '-1'), client(api2, key, '-2')];
    for (const c of keep) await c.start();
    return Promise.all(keep.map((c) => c.accessToken()));
  }, { api1: bridge.url, api2: other.url, key, make });
  const calls = () => [bridge.stats(`${key}-1`).calls, other.stats(`${key}-2`).calls];
  const before = calls();
  const fromPeer = await b.evaluate(async ({ api1, api2, key, make }) => {
    const client = eval(make);
    const cs = [client(api1, key, '-1'), client(api2, key, '-2')];
    for (const c of cs) await c.start();
    const out = await Promise.all(cs.map((c) => c.accessToken()));
    cs.forEach((c) => c.free());
    return out;
  }, { api1: bridge.url, api2: other.url, key, make });
  assert.deepEqual(fromPeer, tokens, 'each client in the new tab got its own client\'s token');
  assert.deepEqual(calls(), before, 'from the peer, not the bridge');
  await a.evaluate(() => keep.forEach((c) => c.free()));
  await a.close();
  await b.close();
});

test('redirects: a token never reaches another origin, whatever redirect mode the caller passed', async () => {
  const page = await openPage();
  const key = `redir${++n}`;
  const results = await page.evaluate(async ({ url, evil, key }) => {
    const out = {};
    for (const scenario of ['oauth2', 'wazo']) {
      const auth = new lib.AuthClient({ tokenUrl: `${url}/token/${scenario}?key=${key}`, apiOrigins: [url], storage: 'memory' });
      await auth.accessToken();
      for (const mode of [undefined, 'follow', 'manual', 'error']) {
        const target = `${evil}/api/echo?key=${key}&to=${scenario}-${mode}`;
        const hop = `${url}/redirect?to=${encodeURIComponent(target)}`;
        // Both fetch paths: a string (fast path) and a Request (full path).
        for (const input of [hop, new Request(hop)]) {
          const init = mode === undefined ? undefined : { redirect: mode };
          out[`${scenario} ${mode} ${typeof input}`] = await auth.fetch(input, init).then((r) => r.type, (e) => e.name);
        }
      }
      auth.free();
    }
    return out;
  }, { url: bridge.url, evil: other.url, key });
  const arrived = other.stats(key).apiCalls;
  assert.ok(arrived.length > 0, 'Authorization requests did follow the redirect');
  for (const c of arrived) assert.ok(c.authorization === null && c.xAuthToken === null, JSON.stringify(c));
  // A custom-header token never follows a redirect in a browser, even when the caller asked for 'follow'.
  assert.equal(results['wazo follow string'], 'TypeError');
  assert.equal(results['wazo follow object'], 'TypeError');
  assert.equal(results['wazo manual string'], 'opaqueredirect');
  await page.close();
});

test('hostile init objects and re-entrant listeners: nothing traps, nothing stays pending, the client keeps working', async () => {
  const page = await openPage();
  const key = `reent${++n}`;
  const r = await page.evaluate(async ({ url, key }) => {
    const within = (p, ms = 3000) => Promise.race([p.then((v) => ['ok', v], (e) => ['err', e?.code ?? e?.name ?? String(e)]), new Promise((r) => setTimeout(() => r(['pending']), ms))]);
    const out = {};
    const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storageKey: key, autoRefresh: true });
    await auth.start();
    const api = `${url}/api/echo?key=${key}`;
    const boom = () => { throw new Error('getter boom'); };
    out.throwingHeaders = await within(auth.fetch(api, { get headers() { return boom(); } }));
    out.throwingRedirect = await within(auth.fetch(api, { get redirect() { return boom(); } }));
    out.throwingRequestInit = await within(auth.fetch(new Request(api), { get method() { return boom(); } }));
    out.reentrantFetch = await within(auth.fetch(api, { get headers() { auth.fetch(api).catch(() => {}); return {}; } }).then((r) => r.status));
    out.reentrantRefresh = await within(auth.fetch(api, { get headers() { auth.refresh().catch(() => {}); return {}; } }).then((r) => r.status));
    out.reentrantSignOut = await within(auth.fetch(api, { get headers() { auth.signOut().catch(() => {}); return {}; } }).then((r) => r.status));
    out.afterAll = await within(auth.start().then(() => auth.fetch(api)).then((r) => r.status));
    // A token listener that signs out; a signedOut listener that starts again.
    let restarted = 0;
    const offToken = auth.on('token', () => { offToken(); auth.signOut().catch(() => {}); });
    const offOut = auth.on('signedOut', () => { offOut(); restarted++; auth.start().catch(() => {}); });
    out.listeners = await within(auth.refresh().then(() => 'refreshed'));
    await new Promise((r) => setTimeout(r, 500));
    out.afterListeners = await within(auth.accessToken().then((t) => t.startsWith('eyJ')));
    out.restarted = restarted;
    // free() while a refresh is in flight: no event afterwards, the pending promise settles.
    await fetch(`${url}/script?key=${key}`, { method: 'POST', body: JSON.stringify([{ kind: 'slow', delayMs: 400, count: 1 }]) });
    const late = [];
    auth.on('token', () => late.push('token'));
    auth.on('error', () => late.push('error'));
    const pending = auth.refresh();
    await new Promise((r) => setTimeout(r, 50));
    auth.free();
    out.freedPending = await within(pending);
    await new Promise((r) => setTimeout(r, 600));
    out.late = late;
    out.storedAfterFree = sessionStorage.getItem(key) !== null;
    return out;
  }, { url: bridge.url, key });
  assert.deepEqual(r.throwingHeaders, ['err', 'Error']);
  assert.deepEqual(r.throwingRedirect, ['err', 'Error']);
  assert.deepEqual(r.throwingRequestInit, ['err', 'Error']);
  assert.deepEqual(r.reentrantFetch, ['ok', 200]);
  assert.deepEqual(r.reentrantRefresh, ['ok', 200]);
  // Signing out in the middle of a request: the request fails cleanly or goes out with the token it had.
  assert.ok(['ok,200', 'err,signed_out'].includes(String(r.reentrantSignOut)), JSON.stringify(r.reentrantSignOut));
  assert.deepEqual(r.afterAll, ['ok', 200]);
  assert.notEqual(r.listeners[0], 'pending');
  assert.deepEqual(r.afterListeners, ['ok', true]);
  assert.equal(r.restarted, 1);
  assert.notEqual(r.freedPending[0], 'pending', 'a promise pending at free() settles');
  assert.deepEqual(r.late, [], 'no listener runs after free()');
  assert.deepEqual(errors, [], 'nothing trapped or reached the console');
  await page.close();
});

test('a Web Storage or timer functions that call back into the client while it uses them: nothing traps, the client keeps working', async () => {
  const page = await openPage();
  const key = `storecb${++n}`;
  const r = await page.evaluate(async ({ url, key }) => {
    const within = (p, ms = 3000) => Promise.race([p.then((v) => ['ok', v], (e) => ['err', e?.code ?? e?.name ?? String(e)]), new Promise((r) => setTimeout(() => r(['pending']), ms))]);
    const { getItem, setItem, removeItem } = Storage.prototype;
    const calls = [];
    let auth;
    // Any script of the origin can replace the storage's methods: here they call the client back synchronously,
    // in the middle of its own read, write or removal of the entry.
    // (Once at a time: a removal that signs out would otherwise recurse without end.)
    let inside = false;
    const back = (what) => {
      if (!auth || inside) return;
      inside = true;
      try { calls.push(what); auth.signOut().catch(() => {}); auth.refresh().catch(() => {}); auth.getSnapshot(); } finally { inside = false; }
    };
    Storage.prototype.getItem = function (k) { if (k === key) back('get'); return getItem.call(this, k); };
    Storage.prototype.setItem = function (k, v) { if (k === key) back('set'); return setItem.call(this, k, v); };
    Storage.prototype.removeItem = function (k) { if (k === key) back('remove'); return removeItem.call(this, k); };
    const out = {};
    try {
      auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storageKey: key, autoRefresh: false });
      out.start = await within(auth.start());
      out.refresh = await within(auth.refresh().then((t) => t.startsWith('eyJ')));
      out.signOut = await within(auth.signOut());
    } finally {
      Object.assign(Storage.prototype, { getItem, setItem, removeItem });
    }
    out.calls = [...new Set(calls)].sort();
    out.after = await within(auth.start().then(() => auth.fetch(`${url}/api/echo?key=${key}`)).then((res) => res.status));
    auth.free();
    // A storage whose write frees the client that is writing.
    const freeing = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storageKey: `${key}-free`, autoRefresh: false });
    let freedInWrite = false;
    Storage.prototype.setItem = function (k, v) { if (k === `${key}-free`) { freedInWrite = true; freeing.free(); } return setItem.call(this, k, v); };
    try {
      out.freeing = await within(freeing.start());
    } finally {
      Storage.prototype.setItem = setItem;
    }
    out.freed = await within(Promise.resolve().then(() => freeing.accessToken()));
    out.freedInWrite = freedInWrite;
    // setTimeout and clearTimeout replaced by functions that call back into the client while it arms its timer.
    const timed = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storage: 'memory', autoRefresh: true });
    const { setTimeout: st, clearTimeout: ct } = globalThis;
    let timerCalls = 0;
    const hook = (orig) => function (...args) {
      if (!inside) {
        inside = true;
        try { timerCalls++; timed.refresh().catch(() => {}); } finally { inside = false; }
      }
      return orig.apply(this, args);
    };
    Object.assign(globalThis, { setTimeout: hook(st), clearTimeout: hook(ct) });
    try {
      out.timed = await within(timed.start());
      out.timedRefresh = await within(timed.refresh().then((t) => t.startsWith('eyJ')));
    } finally {
      Object.assign(globalThis, { setTimeout: st, clearTimeout: ct });
    }
    out.timerCalls = timerCalls > 0;
    out.timedAfter = await within(timed.accessToken().then((t) => t.startsWith('eyJ')));
    timed.free();
    return out;
  }, { url: bridge.url, key });
  assert.deepEqual(r.calls, ['get', 'remove', 'set'], 'the storage called back on every kind of access');
  for (const k of ['start', 'refresh', 'signOut']) assert.notEqual(r[k][0], 'pending', `${k} settles: ${JSON.stringify(r[k])}`);
  assert.deepEqual(r.after, ['ok', 200]);
  assert.notEqual(r.freeing[0], 'pending', `start() settles when the write frees the client: ${JSON.stringify(r.freeing)}`);
  assert.ok(r.freedInWrite, 'the write that frees the client happened');
  assert.deepEqual(r.freed, ['err', 'freed']);
  assert.ok(r.timerCalls, 'the client armed its timer through the replaced setTimeout');
  assert.deepEqual([r.timed, r.timedRefresh, r.timedAfter], [['ok', true], ['ok', true], ['ok', true]]);
  assert.deepEqual(errors, [], 'nothing trapped or reached the console');
  await page.close();
});

test('setters planted on Object.prototype see no token header and cannot call back into the client while it makes one', async () => {
  const page = await openPage();
  const key = `planted${++n}`;
  const r = await page.evaluate(async ({ url, key }) => {
    const within = (p, ms = 3000) => Promise.race([p.then((v) => ['ok', v], (e) => ['err', e?.code ?? e?.name ?? String(e)]), new Promise((r) => setTimeout(() => r(['pending']), ms))]);
    const auth = new lib.AuthClient({ tokenUrl: `${url}/token/oauth2?key=${key}`, apiOrigins: [url], storage: 'memory', autoRefresh: false });
    const out = {};
    out.start = await within(auth.start());
    // A setter on Object.prototype runs for every object whose member is assigned rather than defined: one for
    // each member of the token's header would get the token, and could call back into the client mid-fetch.
    const seen = [];
    const planted = ['name', 'value', 'follow'];
    // (Descriptors without a prototype: once `value` is planted, a plain object literal would seem to have one.)
    const descriptor = (d) => Object.assign(Object.create(null), d);
    for (const k of planted) {
      Object.defineProperty(Object.prototype, k, descriptor({
        configurable: true,
        set(v) { seen.push(k); auth.refresh().catch(() => {}); auth.getSnapshot(); Object.defineProperty(this, k, descriptor({ value: v, writable: true, enumerable: true, configurable: true })); },
      }));
    }
    try {
      // A fresh token (the header made for the fetch), then one the fetch waits for (the answer to its want()).
      out.fetch = await within(auth.fetch(`${url}/api/echo?key=${key}`).then((res) => res.status));
      await auth.refresh();
      out.fetchAfterRefresh = await within(auth.fetch(`${url}/api/echo?key=${key}`).then((res) => res.status));
    } finally {
      for (const k of planted) delete Object.prototype[k];
    }
    out.seen = seen;
    out.after = await within(auth.fetch(`${url}/api/echo?key=${key}`).then((res) => res.status));
    auth.free();
    return out;
  }, { url: bridge.url, key });
  assert.deepEqual(r.start, ['ok', true]);
  assert.deepEqual(r.seen, [], 'no planted setter ran for the token header');
  assert.deepEqual([r.fetch, r.fetchAfterRefresh, r.after], [['ok', 200], ['ok', 200], ['ok', 200]]);
  assert.deepEqual(errors, [], 'nothing trapped or reached the console');
  await page.close();
});

test('no token stays in wasm memory after it is replaced, after signOut() and after free()', async () => {
  const page = await openPage();
  const key = `mem${++n}`;
  const r = await page.evaluate(async ({ url, key }) => {
    const memory = () => new Uint8Array(wasm.memory.buffer);
    const count = (text) => {
      const needle = new TextEncoder().encode(text);
      const hay = memory();
      let hits = 0;
      outer: for (let i = 0; i <= hay.length - needle.length; i++) {
        for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
        hits++;
      }
      return hits;
    };
    // The part of a JWT unique to each token (its claims carry a counter), as it would sit in memory.
    const unique = (t) => t.split('.')[1].slice(-24);
    const out = {};
    for (const scenario of ['oauth2', 'point']) {
      const auth = new lib.AuthClient({ tokenUrl: `${url}/token/${scenario}?key=${key}-${scenario}`, apiOrigins: [url], storageKey: `${key}-${scenario}` });
      await auth.start();
      const first = await auth.accessToken();
      await auth.fetch(`${url}/api/echo?key=${key}`);
      await auth.fetch(new Request(`${url}/api/echo?key=${key}`, { method: 'POST', body: 'x' }));
      auth.claims();
      const inUse = count(unique(first));
      const second = await auth.refresh();
      await auth.fetch(`${url}/api/echo?key=${key}`);
      const replaced = count(unique(first));
      await auth.signOut();
      const signedOut = count(unique(second));
      await auth.start();
      const third = await auth.accessToken();
      auth.free();
      out[scenario] = { inUse, replaced, signedOut, freed: count(unique(third)) };
    }
    return out;
  }, { url: bridge.url, key });
  for (const [scenario, c] of Object.entries(r)) {
    assert.ok(c.inUse >= 1, `${scenario}: the scan finds a live token (${c.inUse})`);
    assert.deepEqual({ replaced: c.replaced, signedOut: c.signedOut, freed: c.freed }, { replaced: 0, signedOut: 0, freed: 0 }, scenario);
  }
  await page.close();
});
