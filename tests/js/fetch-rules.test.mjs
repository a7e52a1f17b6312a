// One rule set for the authenticated fetch, proven on every path: each rule of js/fetch.js `makeFetch` (origin,
// the caller's own header, the token refreshed first, redirects, one retry after a 401, none for a streamed body)
// for a URL string and a Request, with a fresh token and one to get first, in headless Chromium (where the fresh
// string form is the fast path), Node, Deno and Cloudflare workerd (tests/js/fixtures/fetch-rules.js). With
// TEST_BROWSER=webkit (`make test-js-webkit`): in WebKitGTK alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startBridge } from '../support/bridge.mjs';
import { inDeno, inPage, inWorkerd } from '../support/runtimes.mjs';
import { serveStatic } from '../support/static.mjs';
import { BROWSER, WEBKIT } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = `${root}target/fetch-rules-test/`;
let api, evil, server;
let n = 0;

const free = (port) => new Promise((resolve) => {
  const s = createServer();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

before(async () => {
  // The other origin is a look-alike: the API listens on port p and it on port p·10 + d, so the API's origin is a
  // prefix of every URL of it (the fast path must see that the authority goes on). p avoids the ports Chromium
  // refuses to fetch.
  for (let i = 0; i < 100 && !evil; i++) {
    const p = 2100 + Math.floor(Math.random() * 3900);
    const q = p * 10 + Math.floor(Math.random() * 10);
    if ([3659, 4045, 4190, 5060, 5061].includes(p) || !(await free(p)) || !(await free(q))) continue;
    api = await startBridge({ port: p });
    evil = await startBridge({ port: q });
  }
  assert.ok(evil?.url.startsWith(api.url), 'a free pair of ports');
  server = await serveStatic(root, { mounts: { '/fixtures/': `${root}tests/js/fixtures` } });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(`${out}node_modules`, { recursive: true });
  symlinkSync(`${root}pkg`, `${out}node_modules/authbridge`);
});
after(async () => { await api?.close(); await evil?.close(); await server?.close(); });

function check(r, key, browser) {
  const cases = [];
  for (const scenario of ['oauth2', 'wazo']) {
    for (const freshness of ['fresh', 'stale']) {
      for (const form of ['string', 'request']) {
        const tag = `${scenario} ${freshness} ${form}`;
        const at = (rule) => [r[`${tag} ${rule}`], r[`${tag} ${rule} bridge calls`]];
        const refresh = freshness === 'stale' ? 1 : 0;
        const say = (rule) => `${tag} ${rule}: ${JSON.stringify(at(rule))}`;
        cases.push(tag);
        assert.deepEqual(at('token'), [scenario === 'wazo' ? { authorization: null, xAuthToken: 'string' } : { authorization: 'Bearer eyJ', xAuthToken: null }, refresh], say('token'));
        assert.deepEqual(at('outside'), [200, 0], say('outside'));
        assert.deepEqual(at('odd form'), [true, refresh], say('odd form'));
        assert.ok(['TypeError', 200].includes(at('userinfo')[0]) && at('userinfo')[1] === 0, say('userinfo'));
        // The caller's header goes out as given; the wazo header's name is known once a token says so, hence the
        // one bridge call when there is none yet.
        assert.deepEqual(at('own header'), ['mine', scenario === 'wazo' ? refresh : 0], say('own header'));
        // A token in a custom header never follows a redirect in a browser, even when the caller wants it to.
        assert.deepEqual(at('redirect'), [browser && scenario === 'wazo' ? 'TypeError' : 200, refresh], say('redirect'));
        assert.deepEqual(at('retry'), [{ status: 401, sends: 2, distinct: 2, bodies: ['again', 'again'] }, refresh + 1], say('retry'));
        const [stream, streamCalls] = at('stream');
        const refused = stream.status === 401 ? 1 : 0;
        assert.ok(stream.sends === refused && stream.next === 'string' && streamCalls === refresh + refused, say('stream'));
      }
    }
  }
  assert.equal(cases.length, 8);
  const arrived = evil.stats(key).apiCalls;
  // (Deno sends a URL's own credentials as Basic authorization: the caller's, not a token.)
  const own = (c) => c.to === 'userinfo' && /^Basic /.test(c.authorization);
  for (const c of arrived) assert.ok((c.authorization === null || own(c)) && c.xAuthToken === null, `token at the other origin: ${JSON.stringify(c)}`);
  assert.equal(arrived.filter((c) => / outside$/.test(c.to)).length, 8, 'every outside request arrived, without the token');
  assert.equal(arrived.filter((c) => / redirect$/.test(c.to)).length, browser ? 4 : 8, 'followed redirects arrived, without the token');
}

test(`${WEBKIT ? 'WebKitGTK' : 'Chromium'} (pages: the fresh string form is the fast path)`, async () => {
  const key = `${BROWSER}${++n}`;
  check(await inPage(server, 'fetch-rules.js', 'fetchRules', [api.url, evil.url, key]), key, true);
});

test('Node', async () => {
  const key = `node${++n}`;
  const { AuthClient } = await import(`${root}pkg/node.js`);
  const { fetchRules } = await import(`${root}tests/js/fixtures/fetch-rules.js`);
  check(await fetchRules(AuthClient, api.url, evil.url, key), key, false);
});

if (!WEBKIT) test('Deno', async () => {
  const key = `deno${++n}`;
  check(await inDeno(out, 'fetch-rules.js', 'fetchRules', [api.url, evil.url, key]), key, false);
});

if (!WEBKIT) test('Cloudflare workerd', async () => {
  const key = `workerd${++n}`;
  check(await inWorkerd(out, 'fetch-rules.js', 'fetchRules', [api.url, evil.url, key], '2026-04-01'), key, false);
});
