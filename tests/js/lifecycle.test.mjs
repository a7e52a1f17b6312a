// A newcomer's first hour, on the built package in Node: use before init(), options that are wrong (each error
// names the option), free() and what settles after it, the store interface (subscribe/getSnapshot), a first visit
// without a session, and what a refusal and a network failure carry.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startBridge } from '../support/bridge.mjs';

const pkgUrl = new URL('../../pkg/', import.meta.url);
const wasmBytes = readFileSync(new URL('bindgen/authbridge_bg.wasm', pkgUrl));
// A module instance of its own (query string): still uninitialised when the first test runs.
const fresh = await import(new URL('authbridge.js?lifecycle-uninitialised', pkgUrl));
const lib = await import(new URL('authbridge.js', pkgUrl));
lib.initSync({ module: wasmBytes });
const { AuthClient, isAuthError, parseTokenResponse } = lib;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let bridge;
before(async () => { bridge = await startBridge(); });
after(() => bridge.close());

function client(scenario = 'oauth2', extra = {}) {
  const key = `lc-${Math.random().toString(36).slice(2)}`;
  const c = new AuthClient({ tokenUrl: `${bridge.url}/token/${scenario}?key=${key}`, apiOrigins: [bridge.url], ...extra });
  return { c, key, stats: () => bridge.stats(key) };
}
function record(c) {
  const events = [];
  c.on('token', (e) => events.push({ token: e.source }));
  c.on('error', (e) => events.push({ error: e.code }));
  c.on('signedOut', (e) => events.push({ signedOut: e.reason }));
  return events;
}
function throwsCode(fn, code, pattern, label = code) {
  let thrown;
  try { fn(); } catch (e) { thrown = e; }
  assert.ok(thrown, `${label}: did not throw`);
  assert.ok(isAuthError(thrown), `${label}: an AuthError: ${thrown}`);
  assert.equal(thrown.code, code, `${label}: ${thrown.message}`);
  if (pattern) assert.match(thrown.message, pattern);
  return thrown;
}

test('use before init() says to call init() first, with a code', () => {
  const e = throwsCode(() => new fresh.AuthClient({ tokenUrl: 'https://b.example/t', apiOrigins: ['https://a.example'] }),
    'not_initialized', /call init\(\) first/);
  assert.equal(e.name, 'AuthbridgeError');
  throwsCode(() => fresh.decodeJwt('x.y.z'), 'not_initialized');
  // init after the failure works, and a second init is a no-op that returns the same instance.
  const exports = fresh.initSync({ module: wasmBytes });
  assert.equal(fresh.initSync({ module: wasmBytes }), exports);
  assert.equal(fresh.decodeJwt('eyJhIjoxfQ.eyJiIjoyfQ.c2ln').b, 2);
});

describe('options are checked at construction, and each error names the option', () => {
  const base = { tokenUrl: 'https://bridge.example/auth/token', apiOrigins: ['https://api.example'] };
  const cases = [
    [{ ...base, tokenUrl: 42 }, /option `tokenUrl` must be a non-empty URL string; got the number 42/],
    [{ ...base, tokenUrl: '' }, /`tokenUrl` must be a non-empty URL string; got ''/],
    [{ apiOrigins: base.apiOrigins }, /`tokenUrl` must be the bridge's token endpoint/],
    // Node has no document: a relative tokenUrl would fail on every call.
    [{ ...base, tokenUrl: '/auth/token' }, /`tokenUrl` must be an absolute http\(s\) URL here: there is no document/],
    [{ ...base, tokenUrl: 'ftp://bridge.example/t' }, /`tokenUrl` must be an absolute http\(s\) URL/],
    [{ ...base, revokeUrl: '/auth/token' }, /`revokeUrl` must be an absolute/],
    [{ ...base, apiOrigins: [] }, /`apiOrigins` must be a non-empty array of origins.*; got an empty array$/],
    [{ ...base, apiOrigins: 'https://api.example' }, /`apiOrigins` must be a non-empty array of origins.*got 'https:\/\/api.example'/],
    [{ ...base, apiOrigins: ['https://*.example.com'] }, /`apiOrigins` must be an array of exact origins.*no wildcard.*got 'https:\/\/\*\.example\.com'/],
    [{ ...base, apiOrigins: ['*'] }, /`apiOrigins`.*got '\*'/],
    [{ ...base, apiOrigins: ['https://api.example/v1'] }, /`apiOrigins`.*no path/],
    [{ ...base, bridgeTimeout: 0 }, /`bridgeTimeout` must be a number of seconds above 0 and at most 600; got the number 0/],
    [{ ...base, bridgeTimeout: 10_000 }, /`bridgeTimeout`.*got the number 10000/],
    [{ ...base, bridgeTimeout: '5' }, /`bridgeTimeout`.*got '5'/],
    [{ ...base, refreshMargin: -1 }, /`refreshMargin` must be a number of seconds from 0 to 86400/],
    [{ ...base, credentials: 'always' }, /`credentials` must be 'omit', 'same-origin' or 'include'; got 'always'/],
    [{ ...base, storage: 'indexeddb' }, /`storage` must be 'session', 'local' or 'memory'; got 'indexeddb'/],
    [{ ...base, storageKey: '' }, /`storageKey` must be a non-empty string/],
    [{ ...base, header: 'Bad Header' }, /`header` must be an HTTP header name/],
    [{ ...base, autoRefresh: 'yes' }, /`autoRefresh` must be true or false; got 'yes'/],
    [{ ...base, bridgeHeaders: { 'X-CSRF-Token': 1 } }, /`bridgeHeaders` must be an object of header names to string values/],
    [{ ...base, bridgeHeaders: ['x'] }, /`bridgeHeaders`.*got an array/],
    [{ ...base, bridgeHeaders: { 'X Bad Name': 'v' } }, /`bridgeHeaders` must be valid header names and values; got 'X Bad Name'/],
    [{ ...base, bridgeHeaders: { 'X-Ok': 'line\nbreak' } }, /`bridgeHeaders` must be valid header names and values; got 'X-Ok'/],
    [{ ...base, format: 'jwt' }, /format must be/],
    [{ ...base, autorefresh: true }, /unknown AuthClient option `autorefresh` \(did you mean `autoRefresh`\?\)/],
    [{ ...base, apiOrigin: ['https://api.example'] }, /unknown AuthClient option `apiOrigin`/],
    [null, /needs an options object/],
    ['https://bridge.example/auth/token', /needs an options object/],
  ];
  for (const [options, pattern] of cases) {
    test(`${JSON.stringify(options)?.slice(0, 90)}`, () => throwsCode(() => new AuthClient(options), 'invalid_config', pattern));
  }
  test('valid options are accepted; listeners must be functions', () => {
    const c = new AuthClient({ ...base, revokeUrl: 'https://bridge.example/auth/revoke', format: 'oauth2', header: 'Authorization',
      storage: 'memory', storageKey: 'k', credentials: 'omit', bridgeHeaders: { 'X-CSRF-Token': 'c' }, refreshMargin: 0,
      autoRefresh: false, bridgeTimeout: 0.5 });
    throwsCode(() => c.on('token', 'not a function'), 'invalid_config', /on\(event, listener\): listener must be a function; got 'not a function'/);
    throwsCode(() => c.on('tokens', () => {}), 'invalid_config', /event must be 'token', 'signedOut' or 'error'; got 'tokens'/);
    throwsCode(() => c.subscribe({}), 'invalid_config', /subscribe\(listener\): listener must be a function; got an object/);
    c.free();
  });
});

test('parseTokenResponse: the format is optional', () => {
  assert.equal(parseTokenResponse({ access_token: 'a', expires_in: 60 }).format, 'oauth2');
  assert.equal(parseTokenResponse('{"token":"t"}').format, 'static');
  throwsCode(() => parseTokenResponse('{}'), 'invalid_response', /unrecognised token response/);
});

test('isAuthError recognises authbridge errors only', () => {
  assert.equal(isAuthError(throwsCode(() => new AuthClient({}), 'invalid_config')), true);
  for (const other of [new Error('x'), { name: 'AuthbridgeError', code: 'network' }, null, undefined, 'AuthbridgeError']) {
    assert.equal(isAuthError(other), false, String(other));
  }
  const lookalike = new TypeError('x');
  lookalike.name = 'AuthbridgeError';
  assert.equal(isAuthError(lookalike), false, 'no code');
});

describe('free()', () => {
  test('is idempotent; afterwards every method throws `freed`', async () => {
    const { c } = client();
    await c.start();
    c.free();
    c.free();
    c[Symbol.dispose]();
    const calls = {
      start: () => c.start(), accessToken: () => c.accessToken(), fetch: () => c.fetch(`${bridge.url}/api/echo`),
      claims: () => c.claims(), expiresAt: () => c.expiresAt(), nextRefreshAt: () => c.nextRefreshAt(), refresh: () => c.refresh(),
      signOut: () => c.signOut(), on: () => c.on('token', () => {}), subscribe: () => c.subscribe(() => {}),
      getSnapshot: () => c.getSnapshot(), stop: () => c.stop(),
    };
    for (const [name, call] of Object.entries(calls)) throwsCode(call, 'freed', /this AuthClient was freed/, name);
    // Every method of the class is covered above.
    const methods = Object.getOwnPropertyNames(AuthClient.prototype).filter((m) => !['constructor', 'free', '__destroy_into_raw'].includes(m));
    assert.deepEqual(methods.filter((m) => !(m in calls)).sort(), []);
  });

  test('pending promises reject with `freed`; no listener runs afterwards; nothing is stored', async () => {
    const { c, stats } = client('slow');
    const events = record(c);
    let changes = 0;
    c.subscribe(() => changes++);
    const started = c.start();
    const token = c.accessToken();
    await sleep(100);
    assert.equal(stats().calls, 1, 'the bridge call is under way');
    const changesBefore = changes;
    c.free();
    await assert.rejects(started, (e) => isAuthError(e) && e.code === 'freed');
    await assert.rejects(token, (e) => isAuthError(e) && e.code === 'freed');
    // The slow bridge answers after 3 s: the freed client takes no notice.
    await sleep(3200);
    assert.equal(stats().issued.length, 1, 'the bridge did answer');
    assert.deepEqual(events, []);
    assert.equal(changes, changesBefore);
  });

  test('a signOut() in flight rejects with `freed` and emits nothing', async () => {
    const { c } = client();
    await c.start();
    const events = record(c);
    const out = c.signOut();
    c.free();
    await assert.rejects(out, (e) => e.code === 'freed');
    assert.deepEqual(events, []);
  });
});

describe('the store interface', () => {
  test('a first visit without a session is signedOut, with no error and no event', async () => {
    const { c } = client('reject');
    const events = record(c);
    const seen = [];
    c.subscribe(() => seen.push(c.getSnapshot()));
    const first = c.getSnapshot();
    assert.deepEqual({ ...first }, { status: 'starting', claims: null, expiresAt: null, error: null });
    assert.equal(await c.start(), false);
    assert.deepEqual(events, [], 'no error, no signedOut: nothing ended');
    const last = c.getSnapshot();
    assert.deepEqual({ ...last }, { status: 'signedOut', claims: null, expiresAt: null, error: null });
    assert.equal(seen.at(-1), last);
    c.free();
  });

  test('a bridge that refuses the page (403) on a first visit is reported, not taken for "no session"', async () => {
    const { c, key } = client('oauth2');
    await fetch(`${bridge.url}/script?key=${key}`, { method: 'POST',
      body: JSON.stringify([{ kind: 'status', status: 403, count: 1, body: { error: 'csrf', message: 'missing X-CSRF-Token' } }]) });
    const events = record(c);
    assert.equal(await c.start(), false);
    assert.deepEqual(events, [{ error: 'refresh_rejected' }, { signedOut: 'rejected' }]);
    const { status, error } = c.getSnapshot();
    assert.equal(status, 'signedOut');
    assert.deepEqual([error.code, error.status, error.bridgeError], ['refresh_rejected', 403, 'csrf']);
    c.free();
  });

  test('snapshots are frozen, keep their identity until something changes, and follow the session', async () => {
    const { c } = client('oauth2', { autoRefresh: false });
    const seen = [];
    const off = c.subscribe(() => seen.push(c.getSnapshot()));
    const s0 = c.getSnapshot();
    assert.equal(c.getSnapshot(), s0, 'same object while nothing changes');
    assert.ok(Object.isFrozen(s0));
    assert.equal(await c.start(), true);
    const s1 = c.getSnapshot();
    assert.notEqual(s1, s0);
    assert.equal(s1.status, 'signedIn');
    assert.equal(s1.claims.sub, 'user-1');
    assert.ok(Object.isFrozen(s1.claims));
    assert.equal(s1.expiresAt, c.expiresAt());
    assert.equal(s1.error, null);
    assert.equal(c.getSnapshot(), s1);
    assert.equal(seen.at(-1), s1, 'subscribers were told');
    await c.signOut();
    const s2 = c.getSnapshot();
    assert.deepEqual({ ...s2 }, { status: 'signedOut', claims: null, expiresAt: null, error: null });
    off();
    const count = seen.length;
    await c.start();
    assert.equal(c.getSnapshot().status, 'signedIn');
    assert.equal(seen.length, count, 'unsubscribed');
    c.free();
  });

  test('a failed refresh shows its error while the token stays in use; a rejection ends with it', async () => {
    const { c, key } = client('oauth2', { autoRefresh: false });
    await c.start();
    const script = (s) => fetch(`${bridge.url}/script?key=${key}`, { method: 'POST', body: JSON.stringify(s) });
    await script([{ kind: 'status', status: 500, count: 1 }]);
    await assert.rejects(c.refresh(), (e) => e.code === 'bridge_unavailable');
    const failed = c.getSnapshot();
    assert.equal(failed.status, 'signedIn');
    assert.equal(failed.error.code, 'bridge_unavailable');
    await script([{ kind: 'status', status: 403, count: 1, body: { error: 'csrf', message: 'the CSRF header is missing' } }]);
    const events = record(c);
    const rejected = await c.refresh().then(() => null, (e) => e);
    assert.equal(rejected.code, 'refresh_rejected');
    assert.equal(rejected.status, 403);
    assert.equal(rejected.bridgeError, 'csrf');
    assert.match(rejected.message, /HTTP 403, error "csrf"/);
    assert.deepEqual(events, [{ error: 'refresh_rejected' }, { signedOut: 'rejected' }]);
    const ended = c.getSnapshot();
    assert.equal(ended.status, 'signedOut');
    assert.equal(ended.error.bridgeError, 'csrf');
    c.free();
  });
});

test('a network failure keeps its cause', async () => {
  const c = new AuthClient({ tokenUrl: 'http://127.0.0.1:9/token', apiOrigins: ['https://api.example'] });
  const e = await c.start().then(() => null, (e) => e);
  assert.equal(e.code, 'network');
  assert.ok(e.cause instanceof Error, `cause: ${e.cause}`);
  assert.equal(c.getSnapshot().status, 'signedOut');
  assert.equal(c.getSnapshot().error, e);
  c.free();
});
