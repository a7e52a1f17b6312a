// Tests the built npm package (pkg/) from Node: the public JS API end to end against the test bridge.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startBridge, makeJwt } from '../support/bridge.mjs';

const pkgUrl = new URL('../../pkg/', import.meta.url);
const { initSync, decodeJwt, decodeJwtHeader, parseTokenResponse, AuthClient, version } = await import(new URL('authbridge.js', pkgUrl));
initSync({ module: readFileSync(new URL('bindgen/authbridge_bg.wasm', pkgUrl)) });

const POINT_SEED = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwb2ludHwtb1BIbllUaEc2NFVGX0ZCMV8yNmwiLCJpYXQiOjE2NDUxMzc2MDcsImV4cCI6MTY0NTE0MTIwN30.8eIpFc01hpj0Mid325kvJlouQi8aLTBw93q3whwRtpM';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function throwsCode(fn, code, message) {
  try { fn(); } catch (e) {
    assert.ok(e instanceof Error, 'an Error');
    assert.equal(e.name, 'AuthbridgeError');
    assert.equal(e.code, code);
    if (message) assert.equal(e.message, message);
    return;
  }
  assert.fail('did not throw');
}
async function rejectsCode(promise, code) {
  await assert.rejects(promise, (e) => { assert.equal(e.code, code, e.message); return true; });
}

describe('decodeJwt', () => {
  test('seed token header and claims', () => {
    assert.deepEqual(decodeJwtHeader(POINT_SEED), { alg: 'HS256', typ: 'JWT' });
    assert.deepEqual(decodeJwt(POINT_SEED), { sub: 'point|-oPHnYThG64UF_FB1_26l', iat: 1645137607, exp: 1645141207 });
  });
  test('UTF-8 and every JSON type survive', () => {
    const claims = { name: 'José 🚀', n: 1.5, b: false, z: null, a: [1, 'x'], o: { k: 'v' } };
    assert.deepEqual(decodeJwt(makeJwt(claims)), claims);
  });
  test('typed errors, never a panic', () => {
    for (const bad of [null, undefined, 42, {}, ['a.b.c']]) throwsCode(() => decodeJwt(bad), 'invalid_token', 'must be a string');
    throwsCode(() => decodeJwt('abc'), 'invalid_token', 'missing part #2');
    throwsCode(() => decodeJwt('a.b.c.d'), 'invalid_token', 'too many parts: a JWT has exactly 3');
    throwsCode(() => decodeJwt(`${POINT_SEED} `), 'invalid_token', 'whitespace inside the token');
    throwsCode(() => decodeJwt('e30.%%%.x'), 'invalid_token', 'invalid base64 in part #2');
    throwsCode(() => decodeJwt('e30.bm9wZQ.x'), 'invalid_token', 'invalid JSON in part #2');
    throwsCode(() => decodeJwt('e30.WzFd.x'), 'invalid_token', 'part #2 is not a JSON object');
    throwsCode(() => decodeJwt('e30._w.x'), 'invalid_token', 'invalid UTF-8 in part #2');
    // The module still works after errors.
    assert.equal(decodeJwt(POINT_SEED).iat, 1645137607);
    assert.match(version(), /^\d+\.\d+\.\d+/);
  });
});

describe('parseTokenResponse', () => {
  test('each seed provider shape', () => {
    const p = parseTokenResponse(JSON.stringify({ accessToken: { token: `Bearer ${POINT_SEED}`, expiresIn: 86400 } }));
    assert.equal(p.format, 'point');
    assert.equal(p.token, POINT_SEED);
    assert.equal(p.expiresAt, 1645141207000, 'the JWT exp is earlier than expiresIn');
    const o = parseTokenResponse({ access_token: 'abc', refresh_token: 'RT', expires_in: 3600 }, 'oauth2');
    assert.deepEqual(Object.keys(o).sort(), ['expiresAt', 'format', 'header', 'scopes', 'token']);
    assert.ok(!JSON.stringify(o).includes('RT'));
    assert.ok(Math.abs(o.expiresAt - (Date.now() + 3600_000)) < 5000);
    const w = parseTokenResponse({ data: { token: 'w', expires_at: '2022-01-01T00:00:00.000000' } });
    assert.deepEqual([w.format, w.header, w.expiresAt], ['wazo', 'X-Auth-Token', Date.UTC(2022, 0, 1)]);
    const s = parseTokenResponse({ token: 'afp_1', scopes: ['a', 'b'] });
    assert.deepEqual([s.format, s.expiresAt, s.scopes], ['static', null, ['a', 'b']]);
    const c = parseTokenResponse({ r: { t: 'x', ttl: 10 } }, { token: '/r/t', expiresIn: '/r/ttl' });
    assert.equal(c.format, 'custom');
  });
  test('errors name the field', () => {
    throwsCode(() => parseTokenResponse('{nope'), 'invalid_response', 'response is not JSON');
    throwsCode(() => parseTokenResponse({ access_token: 'a', expires_in: -1 }), 'invalid_response', 'field `expires_in` is not a positive lifetime of at most 400 days');
    throwsCode(() => parseTokenResponse({ access_token: 'a', expires_in: '3600' }), 'invalid_response', 'field `expires_in` has the wrong type');
    throwsCode(() => parseTokenResponse({ x: 1 }), 'invalid_response');
    throwsCode(() => parseTokenResponse({ token: 'a' }, 'bogus'), 'invalid_config');
  });
});

describe('AuthClient', () => {
  let bridge;
  let n = 0;
  before(async () => { bridge = await startBridge(); });
  after(async () => { await bridge.close(); });

  // A client on its own stats key, so tests do not see each other's calls.
  function client(scenario, extra = {}, query = '') {
    const key = `k${++n}`;
    const auth = new AuthClient({
      tokenUrl: `${bridge.url}/token/${scenario}?key=${key}${query}`,
      apiOrigins: [bridge.url],
      storage: 'memory',
      ...extra,
    });
    return { auth, key, stats: () => bridge.stats(key), api: (path) => `${bridge.url}/api/${path}?key=${key}` };
  }

  test('invalid options are typed errors (each message is checked in lifecycle.test.mjs)', () => {
    throwsCode(() => new AuthClient(), 'invalid_config');
    throwsCode(() => new AuthClient({ apiOrigins: ['https://a.example'] }), 'invalid_config',
      "AuthClient option `tokenUrl` must be the bridge's token endpoint, e.g. '/auth/token'; got nothing");
    const t = 'https://bridge.example/t';
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: ['https://api.example.com/v1'] }), 'invalid_config');
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: ['ftp://x'] }), 'invalid_config');
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: 'https://a' }), 'invalid_config');
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: ['https://a.example'], storage: 'cookie' }), 'invalid_config');
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: ['https://a.example'], header: 'Bad Header' }), 'invalid_config');
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: ['https://a.example'], refreshMargin: -1 }), 'invalid_config');
    // Hostile arrays: an element or a length whose getter throws is a bad option, not an exception of its own.
    const throwing = ['https://a.example'];
    Object.defineProperty(throwing, 0, { get() { throw new Error('boom'); } });
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: throwing }), 'invalid_config',
      "AuthClient option `apiOrigins` must be an array of exact origins like 'https://api.example.com' (scheme, host, optional port; no path, no wildcard); got nothing");
    const proxy = new Proxy(['https://a.example'], { get(target, k) { if (k === 'length') throw new Error('boom'); return target[k]; } });
    throwsCode(() => new AuthClient({ tokenUrl: t, apiOrigins: proxy }), 'invalid_config');
    const ok = new AuthClient({ tokenUrl: t, apiOrigins: ['https://api.example.com/'] });
    throwsCode(() => ok.on('nope', () => {}), 'invalid_config');
    ok.free();
  });

  for (const [scenario, header, prefix] of [['oauth2', 'authorization', 'Bearer '], ['point', 'authorization', 'Bearer '], ['wazo', 'xAuthToken', ''], ['static', 'authorization', 'Bearer ']]) {
    test(`${scenario}: start, fetch with the right header, sign out`, async () => {
      const { auth, stats, api } = client(scenario);
      const events = [];
      auth.on('token', (e) => events.push(['token', e.source, e.header]));
      auth.on('signedOut', (e) => events.push(['signedOut', e.reason]));
      assert.equal(await auth.start(), true);
      const token = await auth.accessToken();
      const echo = await (await auth.fetch(api('echo'), { method: 'POST', body: 'hi' })).json();
      assert.equal(echo[header], prefix + token);
      assert.equal(echo.body, 'hi');
      if (scenario === 'point') assert.ok(!echo.authorization.startsWith('Bearer Bearer'));
      if (scenario === 'static') assert.equal(auth.expiresAt(), null); else assert.ok(auth.expiresAt() > Date.now());
      if (scenario === 'wazo' || scenario === 'static') assert.equal(auth.claims(), null);
      else assert.equal(auth.claims().name, 'José Müller');
      assert.equal((await auth.fetch(api('me'))).status, 200);
      await auth.signOut();
      const revoke = stats().revokes[0];
      assert.equal(revoke[header], prefix + token, 'revoke carries the token');
      await rejectsCode(auth.accessToken(), 'signed_out');
      await rejectsCode(auth.fetch(api('echo')), 'signed_out');
      assert.deepEqual(events, [['token', 'bridge', scenario === 'wazo' ? 'X-Auth-Token' : 'Authorization'], ['signedOut', 'signOut']]);
      assert.equal(stats().calls, 1);
      auth.free();
    });
  }

  test('1000 concurrent callers share one bridge call', async () => {
    const { auth, stats, api } = client('oauth2');
    const results = await Promise.all([
      ...Array.from({ length: 500 }, () => auth.accessToken()),
      ...Array.from({ length: 500 }, () => auth.fetch(api('echo')).then((r) => r.json()).then((j) => j.authorization.slice(7))),
    ]);
    assert.equal(stats().calls, 1, 'bridge calls');
    assert.equal(new Set(results).size, 1);
    auth.free();
  });

  test('the token goes only to the configured origins', async () => {
    const { auth } = client('oauth2', { apiOrigins: ['https://api.example.com'] });
    const seen = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const req = new Request(input, init);
      if (req.url.startsWith(bridge.url)) return realFetch(input, init);
      seen.push([req.url, req.headers.get('authorization')]);
      return Promise.resolve(new Response('{}'));
    };
    try {
      const targets = [
        'https://api.example.com/v1/me',
        'https://api.example.com:443/x',
        new URL('https://api.example.com/url-object'),
        new Request('https://api.example.com/request-object', { method: 'PUT', body: 'x' }),
        'https://api.example.com.evil.test/x',
        'https://evil.test/?https://api.example.com',
        'https://api.example.com:8443/x',
        'http://api.example.com/x',
        'https://sub.api.example.com/x',
        'https://API.EXAMPLE.COM/upper',
      ];
      for (const t of targets) await auth.fetch(t);
      const token = await auth.accessToken();
      const got = Object.fromEntries(seen.map(([u, h]) => [u, h]));
      const expectToken = ['https://api.example.com/v1/me', 'https://api.example.com/x', 'https://api.example.com/url-object', 'https://api.example.com/request-object', 'https://api.example.com/upper'];
      for (const [u, h] of Object.entries(got)) {
        assert.equal(h, expectToken.includes(u) ? `Bearer ${token}` : null, u);
      }
      assert.equal(Object.keys(got).length, targets.length);
      // URLs with credentials are refused as fetch() itself refuses them, before anything is sent.
      await assert.rejects(auth.fetch('https://api.example.com@evil.test/x'), TypeError);
      assert.ok(!seen.some(([u]) => u.includes('evil.test/x') && u.includes('@')));
      // Relative and protocol-relative URLs have no base in Node: the error is fetch's own.
      await assert.rejects(auth.fetch('//api.example.com.evil.test/x'), TypeError);
      // A header the caller set is never overwritten.
      seen.length = 0;
      await auth.fetch('https://api.example.com/own', { headers: { Authorization: 'Basic abc' } });
      assert.deepEqual(seen, [['https://api.example.com/own', 'Basic abc']]);
    } finally {
      globalThis.fetch = realFetch;
      auth.free();
    }
  });

  test('a 401 refreshes once and retries once; a second 401 is returned as is', async () => {
    const { auth, stats, api } = client('oauth2');
    await auth.start();
    // The server rotates: the client's token is no longer the newest.
    await fetch(`${bridge.url}/token/oauth2?key=${`k${n}`}`, { method: 'POST' });
    const r = await auth.fetch(api('latest'), { method: 'POST', body: 'replayed' });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ok: true, body: 'replayed' });
    assert.equal(stats().calls, 3, 'start + rotation + one refresh');
    const before = stats().apiCalls.length;
    const r2 = await auth.fetch(api('always401'));
    assert.equal(r2.status, 401);
    assert.equal(stats().apiCalls.length - before, 2, 'exactly one retry');
    assert.equal(stats().calls, 4);
    auth.free();
  });

  test('a streamed body is not replayed after a 401', async () => {
    const { auth, stats, api } = client('oauth2');
    const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('once')); c.close(); } });
    const before = stats().apiCalls.length;
    const r = await auth.fetch(api('always401'), { method: 'POST', body, duplex: 'half' });
    assert.equal(r.status, 401);
    assert.equal(stats().apiCalls.length - before, 1);
    auth.free();
  });

  test('a rejected refresh signs out and stops calling the bridge', async () => {
    const { auth, stats } = client('reject', { autoRefresh: true });
    const events = [];
    auth.on('signedOut', (e) => events.push(e.reason));
    auth.on('error', (e) => events.push(e.code));
    assert.equal(await auth.start(), false);
    await rejectsCode(auth.accessToken(), 'signed_out');
    await sleep(300);
    assert.equal(stats().calls, 1);
    // A first visit: there was no session to end, so no error and no signedOut event; the snapshot says it.
    assert.deepEqual(events, []);
    assert.equal(auth.getSnapshot().status, 'signedOut');
    const e = await auth.refresh().then(() => null, (e) => e);
    assert.deepEqual([e.code, e.status, e.bridgeError], ['refresh_rejected', 401, 'no_session']);
    assert.equal(stats().calls, 2, 'an explicit refresh() tries again, once');
    auth.free();
  });

  test('bridge failures: bounded retries with typed errors', async () => {
    const a = client('fail500');
    await rejectsCode(a.auth.accessToken(), 'bridge_unavailable');
    assert.ok(a.stats().calls >= 1 && a.stats().calls <= 3, `calls ${a.stats().calls}`);
    a.auth.free();
    const b = client('html');
    await rejectsCode(b.auth.accessToken(), 'invalid_response');
    b.auth.free();
    const c = client('expired');
    await rejectsCode(c.auth.accessToken(), 'invalid_response');
    c.auth.free();
    const d = client('slow', { bridgeTimeout: 0.2 });
    const t0 = Date.now();
    await rejectsCode(d.auth.accessToken(), 'timeout');
    assert.ok(Date.now() - t0 < 6000, 'each attempt is cut at the timeout');
    assert.ok(d.stats().calls <= 3, 'at most three attempts');
    d.auth.free();
    const e = new AuthClient({ tokenUrl: 'http://127.0.0.1:9/token', apiOrigins: ['https://api.example'], storage: 'memory' });
    await rejectsCode(e.accessToken(), 'network');
    e.free();
  });

  test('503 then success: the caller waits out the short backoff and gets a token', async () => {
    const { auth, stats, key } = client('oauth2');
    await fetch(`${bridge.url}/fail?key=${key}&n=2`, { method: 'POST' });
    const token = await auth.accessToken();
    assert.ok(token.length > 20);
    assert.equal(stats().calls, 3);
    auth.free();
  });

  test('refreshes before expiry on a timer, and stop() ends the timer', async () => {
    const { auth, stats } = client('oauth2', { autoRefresh: true }, '&life=3');
    const tokens = [];
    auth.on('token', () => tokens.push(Date.now()));
    await auth.start();
    const first = await auth.accessToken();
    const exp = auth.expiresAt();
    await sleep(2700);
    // A 3 s token refreshes 0.6-0.9 s before expiry.
    assert.equal(stats().calls, 2);
    assert.ok(tokens[1] < exp, 'refreshed before expiry');
    assert.notEqual(await auth.accessToken(), first);
    auth.stop();
    await sleep(2600);
    assert.equal(stats().calls, 2, 'no timer after stop()');
    auth.free();
  });

  test('custom header and bridge headers', async () => {
    const { auth, stats, api } = client('oauth2', { header: 'X-Custom', bridgeHeaders: { 'X-CSRF-Token': 'csrf-1' } });
    const echo = await (await auth.fetch(api('echo'))).json();
    assert.equal(echo.custom, await auth.accessToken());
    assert.equal(echo.authorization, null);
    assert.equal(stats().lastBridgeHeaders['x-csrf-token'], 'csrf-1');
    auth.free();
  });

  test('listeners that throw do not break the client; off() removes', async () => {
    const { auth } = client('oauth2');
    let calls = 0;
    auth.on('token', () => { throw new Error('listener bug'); });
    const off = auth.on('token', () => calls++);
    await auth.refresh();
    off();
    await auth.refresh();
    assert.equal(calls, 1);
    auth.free();
  });
});
