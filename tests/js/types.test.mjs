// The package's TypeScript declarations, checked two ways against the built package (pkg/):
// 1. tsc --strict (skipLibCheck false) on three small projects in tests/types/ (a browser page with React, a Node
//    server, a Cloudflare Worker), each resolving `authbridge` from a copy of the package's published files.
// 2. What the code emits at runtime (error codes and fields, event payloads, snapshots), provoked against the test
//    bridge in Node, must be exactly what pkg/authbridge.d.ts declares: every emitted value is declared, every
//    declared value is emitted by some scenario, and the payloads type-check as literals of the declared types.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBridge } from '../support/bridge.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkgDir = join(root, 'pkg');
const pkgUrl = new URL('../../pkg/', import.meta.url);
const tsc = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
const missing = ['authbridge.d.ts', 'authbridge.js', 'bindgen/authbridge_bg.wasm', 'package.json'].filter((f) => !existsSync(join(pkgDir, f)));
const skip = missing.length ? `pkg/ is missing (${missing.join(', ')}): build it first with \`make pkg\` (node scripts/build-pkg.mjs)` : false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Makes Node pass for a browser's page, the way authbridge tells one (js/options.js `browserPlatform`): the global
// is a Window and its Request drops the Fetch standard's forbidden headers. Returns the function undoing it.
function asBrowser() {
  const RealRequest = globalThis.Request;
  globalThis.Request = class Request extends RealRequest {
    constructor(input, init) {
      super(input, init);
      for (const h of ['cookie', 'cookie2', 'host']) this.headers.delete(h);
    }
  };
  globalThis.Window = class Window { static [Symbol.hasInstance](v) { return v === globalThis; } };
  globalThis.window = globalThis;
  return () => {
    globalThis.Request = RealRequest;
    delete globalThis.Window;
    delete globalThis.window;
  };
}

// ---- A scratch install: the projects of tests/types/ next to node_modules/authbridge (the published files only) ----
// It lives under target/ so that @types/node, @types/react, react and @cloudflare/workers-types resolve from the
// repository's node_modules, as they would from an application's.
let work;
function removeScratch() {
  if (work) rmSync(work, { recursive: true, force: true });
  work = undefined;
}
function scratchInstall() {
  if (work) return work;
  mkdirSync(join(root, 'target', 'types-test'), { recursive: true });
  work = mkdtempSync(join(root, 'target', 'types-test', 'run-'));
  cpSync(join(root, 'tests', 'types'), work, { recursive: true });
  const dest = join(work, 'node_modules', 'authbridge');
  mkdirSync(dest, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  for (const f of ['package.json', ...manifest.files]) {
    assert.ok(existsSync(join(pkgDir, f)), `pkg/package.json "files" lists ${f}, which pkg/ does not have`);
    cpSync(join(pkgDir, f), join(dest, f), { recursive: true });
  }
  return work;
}
// `quote`: also show the source line of each error (for generated files, whose lines say which scenario).
async function runTsc(project, quote) {
  try {
    await promisify(execFile)(tsc, ['-p', project, '--pretty', 'false'], { cwd: work, maxBuffer: 16 << 20, timeout: 90_000, killSignal: 'SIGKILL' });
  } catch (e) {
    if (e.code === 'ENOENT') assert.fail(`${tsc} not found: run npm install`);
    let out = `${e.stdout ?? ''}${e.stderr ?? ''}` || String(e);
    if (quote) {
      const lines = readFileSync(quote, 'utf8').split('\n');
      out = out.replace(/^(.*?\((\d+),\d+\): error .*)$/gm, (m, _, line) => `${m}\n    > ${lines[line - 1]?.trim().slice(0, 400)}`);
    }
    assert.fail(`tsc -p ${project} failed:\n${out}`);
  }
}

describe('tsc --strict on the package in three kinds of project', { skip }, () => {
  before(scratchInstall);
  after(removeScratch);
  for (const project of ['browser', 'node', 'workers']) {
    test(`tests/types/${project}`, { timeout: 60_000 }, () => runTsc(join(work, project)));
  }
});

// ---- The declarations, read from pkg/authbridge.d.ts ----
// A small parser for the declaration forms types.d.ts uses (it fails loudly on anything else): comments are removed
// (string-aware), then `export type X = 'a' | 'b';` and interface bodies with `name?: type;` members are read.
function stripComments(src) {
  let out = '';
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '*') { const end = src.indexOf('*/', i + 2); i = end < 0 ? src.length : end + 2; out += ' '; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < src.length && src[i] !== '\n') i++; continue; }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
// Splits at `sep` outside brackets and strings.
function splitTop(text, sep) {
  const parts = [];
  let depth = 0, start = 0, quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === '\\') i++; else if (c === quote) quote = null; continue; }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if ('({[<'.includes(c)) depth++;
    else if (')}]'.includes(c) || (c === '>' && text[i - 1] !== '=')) depth--;
    else if (c === sep && depth === 0) { parts.push(text.slice(start, i)); start = i + 1; }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}
function stringUnion(type, what) {
  return splitTop(type, '|').map((m) => {
    const lit = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(m);
    assert.ok(lit, `${what}: expected a union of string literals, found member ${JSON.stringify(m)}`);
    return lit[1] ?? lit[2];
  });
}
function readDeclarations(dts) {
  const code = stripComments(dts);
  const alias = (name) => {
    const m = new RegExp(`\\bexport\\s+type\\s+${name}\\s*=`).exec(code);
    assert.ok(m, `authbridge.d.ts: no \`export type ${name}\``);
    const rest = code.slice(m.index + m[0].length);
    return splitTop(rest, ';')[0];
  };
  const iface = (name) => {
    const m = new RegExp(`\\bexport\\s+interface\\s+${name}\\b([^{]*)\\{`).exec(code);
    assert.ok(m, `authbridge.d.ts: no \`export interface ${name}\``);
    let depth = 1, i = m.index + m[0].length;
    const start = i;
    for (; depth > 0; i++) { if (code[i] === '{') depth++; else if (code[i] === '}') depth--; }
    const members = {};
    for (const part of splitTop(code.slice(start, i - 1), ';')) {
      const mm = /^(?:readonly\s+)?([A-Za-z_$][\w$]*)(\?)?\s*:\s*([\s\S]+)$/.exec(part);
      assert.ok(mm, `authbridge.d.ts: interface ${name}: cannot read member ${JSON.stringify(part)}`);
      members[mm[1]] = { optional: !!mm[2], type: mm[3].trim() };
    }
    return { heritage: m[1].trim(), members };
  };
  const codes = stringUnion(alias('AuthErrorCode'), 'AuthErrorCode');
  const authError = iface('AuthError');
  assert.equal(authError.heritage, 'extends Error', 'AuthError extends Error');
  assert.equal(authError.members.code.type, 'AuthErrorCode');
  // Error's own members in lib.es5 + lib.es2022.error: name, message, stack?, cause?.
  const errorKeys = { name: { optional: false }, message: { optional: false }, stack: { optional: true }, cause: { optional: true }, ...authError.members };
  const tokenEvent = iface('TokenEvent');
  const signedOutEvent = iface('SignedOutEvent');
  const snapshot = iface('AuthSnapshot');
  const parsed = iface('ParsedTokenResponse');
  return {
    codes,
    sources: stringUnion(tokenEvent.members.source.type, 'TokenEvent.source'),
    reasons: stringUnion(signedOutEvent.members.reason.type, 'SignedOutEvent.reason'),
    statuses: stringUnion(snapshot.members.status.type, 'AuthSnapshot.status'),
    formats: stringUnion(parsed.members.format.type, 'ParsedTokenResponse.format'),
    keys: { AuthError: errorKeys, TokenEvent: tokenEvent.members, SignedOutEvent: signedOutEvent.members, AuthSnapshot: snapshot.members, ParsedTokenResponse: parsed.members },
  };
}

// Declared values that no scenario here can produce, each with the reason. Keep empty unless truly unproducible.
const UNPRODUCIBLE = {
  codes: {},
  sources: {},
  reasons: {},
  statuses: {},
  formats: {},
};

describe('emitted values are exactly the declared ones', { skip }, () => {
  let decl, ab, bridge, closedPort;
  let n = 0;
  // What the scenarios saw: value → first scenario that produced it, and every payload.
  const seen = { codes: new Map(), sources: new Map(), reasons: new Map(), statuses: new Map(), formats: new Map() };
  const payloads = { AuthError: [], TokenEvent: [], SignedOutEvent: [], AuthSnapshot: [], ParsedTokenResponse: [] };

  before(async () => {
    decl = readDeclarations(readFileSync(join(pkgDir, 'authbridge.d.ts'), 'utf8'));
    ab = await import(new URL('authbridge.js', pkgUrl));
    ab.initSync({ module: readFileSync(new URL('bindgen/authbridge_bg.wasm', pkgUrl)) });
    bridge = await startBridge();
    // A port nothing listens on: bind, read, close.
    closedPort = await new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    });
  });
  // Every client made here, freed at the end whatever happened (an open channel or timer would keep Node alive).
  const clients = [];
  const track = (auth) => { clients.push(auth); return auth; };
  after(async () => {
    for (const auth of clients) auth.free();
    delete globalThis.document;
    delete globalThis.sessionStorage;
    await bridge?.close();
  });

  const note = (kind, value, scenario) => { if (!seen[kind].has(value)) seen[kind].set(value, scenario); };
  function error(e, scenario) {
    assert.ok(ab.isAuthError(e), `${scenario}: not an AuthError: ${e?.stack ?? e}`);
    note('codes', e.code, scenario);
    payloads.AuthError.push({ scenario, value: e });
    return e;
  }
  function thrown(fn, scenario) {
    try { fn(); } catch (e) { return error(e, scenario); }
    assert.fail(`${scenario}: did not throw`);
  }
  async function rejected(promise, scenario) {
    try { await promise; } catch (e) { return error(e, scenario); }
    assert.fail(`${scenario}: did not reject`);
  }
  // A client on its own bridge stats key that records every event and snapshot it produces.
  function client(scenario, options = {}) {
    const key = `types${++n}`;
    const tokenUrl = `${bridge.url}/token/${scenario}?key=${key}`;
    const auth = track(new ab.AuthClient({ tokenUrl, apiOrigins: [bridge.url], storage: 'memory', ...options }));
    const events = [];
    const label = `${scenario}#${n}`;
    auth.on('token', (e) => { events.push(['token', e.source]); note('sources', e.source, label); payloads.TokenEvent.push({ scenario: label, value: e }); });
    auth.on('signedOut', (e) => { events.push(['signedOut', e.reason]); note('reasons', e.reason, label); payloads.SignedOutEvent.push({ scenario: label, value: e }); });
    auth.on('error', (e) => { events.push(['error', e.code]); error(e, `${label} (error event)`); });
    const snapshot = () => {
      const s = auth.getSnapshot();
      note('statuses', s.status, label);
      payloads.AuthSnapshot.push({ scenario: label, value: s });
      return s;
    };
    const changes = { count: 0 };
    // Declared `() => void`: whatever a subscriber is passed must carry nothing (it is called with `undefined`).
    auth.subscribe((...args) => { changes.count++; changes.args = args; snapshot(); });
    const script = (faults) => fetch(`${bridge.url}/script?key=${key}`, { method: 'POST', body: JSON.stringify(faults) });
    return { auth, events, snapshot, changes, script, tokenUrl, key };
  }
  const until = async (what, cond, ms = 3000) => {
    for (const end = Date.now() + ms; !cond(); await sleep(10)) if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
  };

  test('sign in and out: bridge token, signOut, signed_out; snapshots starting → signedIn → signedOut', { timeout: 15_000 }, async () => {
    const { auth, events, snapshot, changes } = client('oauth2');
    const first = snapshot();
    assert.equal(first.status, 'starting');
    assert.equal(auth.getSnapshot(), first, 'the same snapshot object until something changes');
    assert.equal(await auth.start(), true);
    assert.ok(changes.count > 0, 'subscribers were told');
    assert.ok(changes.args.every((a) => a === undefined), 'a subscriber gets no value');
    const signedIn = snapshot();
    assert.equal(signedIn.status, 'signedIn');
    assert.equal(auth.getSnapshot(), signedIn);
    assert.equal(signedIn.claims.sub, 'user-1');
    assert.equal(typeof signedIn.expiresAt, 'number');
    assert.equal(signedIn.error, null);
    await auth.signOut();
    assert.equal(snapshot().status, 'signedOut');
    assert.equal((await rejected(auth.accessToken(), 'accessToken after signOut')).code, 'signed_out');
    assert.deepEqual(events, [['token', 'bridge'], ['signedOut', 'signOut']]);
    auth.free();
  });

  test('first visit without a session: signedOut, no error event; refresh() rejects with the refusal', { timeout: 15_000 }, async () => {
    const { auth, events, snapshot } = client('reject');
    assert.equal(await auth.start(), false);
    const s = snapshot();
    assert.equal(s.status, 'signedOut');
    assert.equal(s.error, null, 'a first visit is not an error');
    assert.deepEqual(events, [], 'no event on a first visit');
    const e = await rejected(auth.refresh(), 'refresh() on a first visit (401 + JSON error)');
    assert.equal(e.code, 'refresh_rejected');
    assert.equal(e.status, 401);
    assert.equal(e.bridgeError, 'no_session');
    auth.free();
  });

  test('the bridge refuses a signed-in client: refresh_rejected (status, bridgeError), signedOut rejected', { timeout: 15_000 }, async () => {
    const { auth, events, snapshot, script } = client('oauth2');
    await auth.start();
    await script([{ kind: 'status', status: 403, body: 'forbidden', contentType: 'text/plain', count: 1 }, { kind: 'status', status: 401, body: { error: 'csrf' }, count: 1 }]);
    const e = await rejected(auth.refresh(), 'refresh() refused with 403 and no JSON');
    assert.deepEqual([e.code, e.status, 'bridgeError' in e], ['refresh_rejected', 403, false]);
    assert.deepEqual(events.slice(1), [['error', 'refresh_rejected'], ['signedOut', 'rejected']]);
    const s = snapshot();
    assert.equal(s.status, 'signedOut');
    assert.equal(s.error?.code, 'refresh_rejected', 'the snapshot shows why the session ended');
    const again = await rejected(auth.refresh(), 'refresh() refused with 401 and {"error":"csrf"}');
    assert.deepEqual([again.code, again.status, again.bridgeError], ['refresh_rejected', 401, 'csrf']);
    auth.free();
  });

  test('bridge failures: invalid_response, bridge_unavailable, network, timeout (thrown and as error events)', { timeout: 25_000 }, async () => {
    const cases = [
      ['html', {}, 'invalid_response'],
      ['fail500', {}, 'bridge_unavailable'],
      ['slow', { bridgeTimeout: 0.2 }, 'timeout'],
    ];
    const clients = cases.map(([scenario, options]) => client(scenario, options));
    const offline = track(new ab.AuthClient({ tokenUrl: `http://127.0.0.1:${closedPort}/token`, apiOrigins: [bridge.url], storage: 'memory' }));
    offline.on('error', (e) => error(e, 'closed port (error event)'));
    // In parallel: each fails after its bounded retries.
    const results = await Promise.all([
      ...clients.map(({ auth }, i) => rejected(auth.accessToken(), `accessToken: ${cases[i][0]}`)),
      rejected(offline.accessToken(), 'accessToken: closed port'),
    ]);
    assert.deepEqual(results.map((e) => e.code), [...cases.map((c) => c[2]), 'network']);
    clients.forEach(({ auth, events }, i) => {
      assert.ok(events.some(([kind, code]) => kind === 'error' && code === cases[i][2]), `${cases[i][0]}: an error event`);
      assert.equal(auth.getSnapshot().error?.code, cases[i][2]);
      auth.free();
    });
    offline.free();
  });

  test('invalid_config, invalid_token, invalid_response from the API surface', () => {
    thrown(() => new ab.AuthClient({}), 'new AuthClient({})');
    thrown(() => new ab.AuthClient({ tokenUrl: `${bridge.url}/token`, apiOrigins: [bridge.url], autorefresh: true }), 'unknown option');
    thrown(() => ab.parseTokenResponse({ token: 'a' }, 'bogus'), 'parseTokenResponse with a bad format');
    const { auth } = client('oauth2');
    thrown(() => auth.on('tokens', () => {}), 'on() with a bad event');
    auth.free();
    assert.equal(thrown(() => ab.decodeJwt('x'), "decodeJwt('x')").code, 'invalid_token');
    assert.equal(thrown(() => ab.parseTokenResponse('{nope'), 'parseTokenResponse of non-JSON').code, 'invalid_response');
  });

  test('parseTokenResponse: every format', () => {
    const responses = [
      ['oauth2', '{"access_token":"abc","expires_in":60,"refresh_token":"RT"}'],
      ['point', { accessToken: { token: 'Bearer abc', expiresIn: 60 } }],
      ['wazo', { data: { token: 'abc', expires_at: new Date(Date.now() + 60_000).toISOString().replace('Z', '') } }],
      ['static', { token: 'abc', scopes: ['a'] }],
      ['custom', { r: { t: 'abc', ttl: 60 } }, { token: '/r/t', expiresIn: '/r/ttl' }],
    ];
    for (const [scenario, json, format] of responses) {
      const parsed = ab.parseTokenResponse(json, format);
      assert.equal(parsed.format, scenario);
      note('formats', parsed.format, `parseTokenResponse: ${scenario}`);
      payloads.ParsedTokenResponse.push({ scenario: `parseTokenResponse: ${scenario}`, value: parsed });
    }
  });

  test('freed: every method throws after free(), free() is idempotent, a pending call rejects', { timeout: 15_000 }, async () => {
    const { auth } = client('oauth2');
    auth.free();
    auth.free();
    auth[Symbol.dispose]?.();
    const calls = {
      start: () => auth.start(), accessToken: () => auth.accessToken(), fetch: () => auth.fetch(`${bridge.url}/api/me`),
      claims: () => auth.claims(), expiresAt: () => auth.expiresAt(), nextRefreshAt: () => auth.nextRefreshAt(),
      refresh: () => auth.refresh(), signOut: () => auth.signOut(), on: () => auth.on('token', () => {}),
      subscribe: () => auth.subscribe(() => {}), getSnapshot: () => auth.getSnapshot(), stop: () => auth.stop(),
    };
    const declared = Object.getOwnPropertyNames(ab.AuthClient.prototype).filter((k) => !['constructor', 'free', '__destroy_into_raw'].includes(k));
    assert.deepEqual(Object.keys(calls).sort(), declared.sort(), 'every method of AuthClient is checked');
    for (const [name, call] of Object.entries(calls)) assert.equal(thrown(call, `${name}() after free()`).code, 'freed', name);

    const pending = client('oauth2');
    await pending.script([{ kind: 'slow', delayMs: 300, count: 1 }]);
    const p = pending.auth.accessToken();
    await sleep(20);
    pending.auth.free();
    assert.equal((await rejected(p, 'accessToken() pending at free()')).code, 'freed');
  });

  test('not_initialized: the glue used before init()', async () => {
    // A second instance of the glue module (a distinct URL), never initialised.
    const fresh = await import(new URL('authbridge.js?not-initialised', pkgUrl));
    assert.equal(thrown(() => fresh.decodeJwt('x'), 'decodeJwt before init').code, 'not_initialized');
    assert.equal(thrown(() => new fresh.AuthClient({ tokenUrl: `${bridge.url}/token`, apiOrigins: [bridge.url] }), 'new AuthClient before init').code, 'not_initialized');
  });

  test("token source 'storage': start() restores the entry another client stored", { timeout: 15_000 }, async () => {
    // A Web Storage stand-in: what a page's sessionStorage does across reloads. Storage is used only in a page
    // (gloo-storage reaches it through `window`), so the global is made to pass for a browser's window.
    const items = new Map();
    globalThis.sessionStorage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => { items.set(k, String(v)); }, removeItem: (k) => { items.delete(k); } };
    const restore = asBrowser();
    try {
      const a = client('oauth2', { storage: 'session' });
      await a.auth.start();
      a.auth.free();
      assert.equal(items.size, 1, 'the token was stored');
      const b = track(new ab.AuthClient({ tokenUrl: a.tokenUrl, apiOrigins: [bridge.url], storage: 'session' }));
      const sources = [];
      b.on('token', (e) => { sources.push(e.source); note('sources', e.source, 'restored from storage'); payloads.TokenEvent.push({ scenario: 'restored from storage', value: e }); });
      assert.equal(await b.start(), true);
      assert.deepEqual(sources, ['storage']);
      b.free();
    } finally {
      delete globalThis.sessionStorage;
      restore();
    }
  });

  test("peers: token source 'peer' and signedOut reason 'peer' between two clients of one origin", { timeout: 15_000 }, async () => {
    // In a browser, clients share tokens and sign-outs over a BroadcastChannel.
    const restore = asBrowser();
    let a, b;
    try {
      a = client('oauth2', { storage: 'session' });
      b = track(new ab.AuthClient({ tokenUrl: a.tokenUrl, apiOrigins: [bridge.url], storage: 'session' }));
      const bEvents = [];
      b.on('token', (e) => { bEvents.push(['token', e.source]); note('sources', e.source, 'peer token'); payloads.TokenEvent.push({ scenario: 'peer token', value: e }); });
      b.on('signedOut', (e) => { bEvents.push(['signedOut', e.reason]); note('reasons', e.reason, 'peer sign-out'); payloads.SignedOutEvent.push({ scenario: 'peer sign-out', value: e }); });
      b.on('error', (e) => { bEvents.push(['error', e.code]); error(e, 'peer (error event)'); });
      await a.auth.start();
      await until("b's token from its peer", () => bEvents.length > 0);
      assert.deepEqual(bEvents, [['token', 'peer']]);
      // The bridge refuses from now on: b's check after a's sign-out confirms it.
      await a.script([{ kind: 'status', status: 401, body: { error: 'no_session' }, count: 10 }]);
      await a.auth.signOut();
      await until("b's sign-out", () => bEvents.length > 1);
      assert.deepEqual(bEvents, [['token', 'peer'], ['signedOut', 'peer']], 'a confirmed peer sign-out is no error');
    } finally {
      a?.auth.free();
      b?.free();
      restore();
    }
  });

  test('every emitted value is declared and every declared value is emitted', () => {
    for (const kind of Object.keys(seen)) {
      const declared = decl[kind];
      const emitted = [...seen[kind].keys()];
      const undeclared = emitted.filter((v) => !declared.includes(v)).map((v) => `${v} (from ${seen[kind].get(v)})`);
      assert.deepEqual(undeclared, [], `${kind}: emitted but not declared in authbridge.d.ts`);
      const neverEmitted = declared.filter((v) => !seen[kind].has(v) && !(v in UNPRODUCIBLE[kind]));
      assert.deepEqual(neverEmitted, [], `${kind}: declared but produced by no scenario (add one, or list it in UNPRODUCIBLE with the reason)`);
      const stale = Object.keys(UNPRODUCIBLE[kind]).filter((v) => !declared.includes(v) || seen[kind].has(v));
      assert.deepEqual(stale, [], `${kind}: UNPRODUCIBLE lists values that are undeclared or were produced`);
    }
  });

  test('every payload has exactly the declared keys', () => {
    const check = (type, own) => {
      const keys = decl.keys[type];
      for (const { scenario, value } of payloads[type]) {
        const present = own(value);
        const extra = present.filter((k) => !(k in keys));
        const absent = Object.entries(keys).filter(([k, m]) => !m.optional && !present.includes(k)).map(([k]) => k);
        assert.deepEqual({ extra, absent }, { extra: [], absent: [] }, `${type} from ${scenario}: keys ${present.join(', ')}`);
      }
    };
    check('AuthError', (e) => Object.getOwnPropertyNames(e));
    check('TokenEvent', (e) => Object.keys(e));
    check('SignedOutEvent', (e) => Object.keys(e));
    check('AuthSnapshot', (e) => Object.keys(e));
    check('ParsedTokenResponse', (e) => Object.keys(e));
    for (const { scenario, value: e } of payloads.AuthError) {
      assert.ok(e instanceof Error, scenario);
      assert.equal(e.name, 'AuthbridgeError', scenario);
      if ('bridgeError' in e) assert.equal(e.code, 'refresh_rejected', `${scenario}: bridgeError only on refresh_rejected`);
      if ('status' in e) {
        assert.ok(['refresh_rejected', 'bridge_unavailable'].includes(e.code), `${scenario}: status only on refresh_rejected and bridge_unavailable`);
        assert.ok(e.code === 'refresh_rejected' ? e.status === 401 || e.status === 403 : e.status >= 400 && e.status <= 599, `${scenario}: status ${e.status}`);
      }
      if ('bridgeError' in e) assert.equal(typeof e.bridgeError, 'string', scenario);
    }
    for (const { scenario, value } of payloads.AuthSnapshot) {
      assert.ok(Object.isFrozen(value), `${scenario}: the snapshot is frozen`);
      if (value.claims) assert.ok(Object.isFrozen(value.claims), `${scenario}: the snapshot's claims are frozen`);
    }
    for (const [type, list] of Object.entries(payloads)) assert.ok(list.length, `no ${type} was checked`);
  });

  // The compiler's own judgement: every emitted payload, written out as a literal, must type-check as the declared
  // type (excess and missing properties, value types), and the emitted unions must cover the declared ones.
  test('the emitted payloads type-check as the declared types (tsc)', { timeout: 60_000 }, async () => {
    const dir = join(scratchInstall(), 'emitted');
    mkdirSync(dir, { recursive: true });
    // One element per line, after a comment naming the scenario that emitted it (quoted when tsc objects).
    const literal = (items) => `[\n${items.map(({ scenario, value }) => `  /* ${scenario.replaceAll('*/', '* /')} */ ${JSON.stringify(value)},`).join('\n')}\n]`;
    const errorLiteral = (e) => Object.fromEntries(Object.getOwnPropertyNames(e).map((k) => [k, k === 'cause' ? String(e[k]) : e[k]]));
    const union = (values) => (values.length ? values.map((v) => JSON.stringify(v)).join(' | ') : 'never');
    const covers = (name, declared, kind) => `type Missing_${name} = Exclude<${declared}, ${union([...seen[kind].keys(), ...Object.keys(UNPRODUCIBLE[kind])])}>;
export const ${name}: [Missing_${name}] extends [never] ? true : { neverEmitted: Missing_${name} } = true;`;
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', lib: ['es2022'], types: ['node'], module: 'nodenext', moduleResolution: 'nodenext' },
      include: ['*.ts'],
    }));
    writeFileSync(join(dir, 'emitted.ts'), `// Generated by tests/js/types.test.mjs from what the package emitted in Node.
import type { AuthError, AuthErrorCode, AuthSnapshot, ParsedTokenResponse, SignedOutEvent, TokenEvent } from 'authbridge';
export const errors: AuthError[] = ${literal(payloads.AuthError.map(({ scenario, value }) => ({ scenario, value: errorLiteral(value) })))};
export const tokenEvents: TokenEvent[] = ${literal(payloads.TokenEvent)};
export const signedOutEvents: SignedOutEvent[] = ${literal(payloads.SignedOutEvent)};
export const parsedResponses: ParsedTokenResponse[] = ${literal(payloads.ParsedTokenResponse)};
export const snapshots: AuthSnapshot[] = ${literal(payloads.AuthSnapshot.map(({ scenario, value }) => ({ scenario, value: { ...value, error: value.error && errorLiteral(value.error) } })))};
${covers('codes', 'AuthErrorCode', 'codes')}
${covers('sources', "TokenEvent['source']", 'sources')}
${covers('reasons', "SignedOutEvent['reason']", 'reasons')}
${covers('statuses', "AuthSnapshot['status']", 'statuses')}
${covers('formats', "ParsedTokenResponse['format']", 'formats')}
`);
    await runTsc(dir, join(dir, 'emitted.ts'));
  });
  after(removeScratch);
});
