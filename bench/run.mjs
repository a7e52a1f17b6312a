// `make bench`: authbridge next to the libraries a user would pick instead, in one run on this machine.
// Writes bench/RESULTS.md (and bench/build/results.json). Expects pkg/ built and bench/node_modules installed.
// BENCH_RUNS (default 5) sets the repetitions each median is taken over.
import { build } from 'esbuild';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { launchChromium } from '../tests/support/chromium.mjs';
import { startServer } from './server.mjs';
import { rustAppSection, rustAppSizes } from './rust-app.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const bench = `${root}bench/`;
const out = `${bench}build/`;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
mkdirSync(out, { recursive: true });

const version = (name) => JSON.parse(readFileSync(`${bench}node_modules/${name}/package.json`, 'utf8')).version;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const kb = (n) => (n / 1000).toFixed(1);
const log = (...a) => console.error('bench:', ...a);

// ---------------------------------------------------------------------------------------------------- size
const ANCHORS = [
  ['jwt-decode', 'jwt-decode', `export { jwtDecode } from 'jwt-decode';`, false],
  ['jose `decodeJwt`', 'jose', `export { decodeJwt } from 'jose';`, false],
  ['oidc-client-ts `UserManager`', 'oidc-client-ts', `export { UserManager } from 'oidc-client-ts';`, true],
  ['@supabase/auth-js `GoTrueClient`', '@supabase/auth-js', `export { GoTrueClient } from '@supabase/auth-js';`, true],
  ['@auth0/auth0-spa-js `createAuth0Client`', '@auth0/auth0-spa-js', `export { createAuth0Client } from '@auth0/auth0-spa-js';`, true],
  ['axios + axios-auth-refresh', 'axios', `export { default as axios } from 'axios';
export { default as createAuthRefreshInterceptor } from 'axios-auth-refresh';`, true],
];

async function minified(contents, resolveDir = bench) {
  const r = await build({ stdin: { contents, resolveDir }, bundle: true, minify: true, format: 'esm', platform: 'browser',
    write: false, logLevel: 'error', external: ['*.wasm'] });
  return Buffer.from(r.outputFiles[0].contents);
}
const compressed = (files) => ({
  raw: files.reduce((n, f) => n + f.length, 0),
  gzip: files.reduce((n, f) => n + gzipSync(f, { level: 9 }).length, 0),
  brotli: files.reduce((n, f) => n + brotliCompressSync(f, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length, 0),
});

// What a page downloads: the package as a bundler or CDN resolves it for browsers (the `browser` condition:
// browser.js over bindgen-browser/); the universal build (authbridge.js, what Node, Deno and workerd load) after it.
async function sizes() {
  const rows = [];
  for (const [name, entry, dir] of [['authbridge (wasm + JS glue)', 'browser.js', 'bindgen-browser'],
    ['authbridge, universal build (server runtimes)', 'authbridge.js', 'bindgen']]) {
    const glue = await minified(`export * from './${entry}'; export { default } from './${entry}';`, `${root}pkg`);
    const wasm = readFileSync(`${root}pkg/${dir}/authbridge_bg.wasm`);
    rows.push({ name, version: pkgVersion(), full: true, ...compressed([wasm, glue]),
      parts: { wasm: compressed([wasm]), glue: compressed([glue]) } });
  }
  for (const [name, pkg, entry, full] of ANCHORS) {
    rows.push({ name, version: pkg === 'axios' ? `${version('axios')} + ${version('axios-auth-refresh')}` : version(pkg), full,
      ...compressed([await minified(entry)]) });
  }
  return rows;
}
const pkgVersion = () => JSON.parse(readFileSync(`${root}pkg/package.json`, 'utf8')).version;

// ------------------------------------------------------------------------------------------- in Chromium
// A realistic ID/access token: 15 claims, a non-ASCII name.
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const TOKEN = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k-2026-11' })}.${b64({
  iss: 'https://auth.example.com/', sub: 'auth0|6512f3a9c0ffee0042', aud: ['https://api.example.com', 'https://auth.example.com/userinfo'],
  iat: now, nbf: now, exp: now + 3600, azp: 'Xq3v9spa', scope: 'openid profile email read:items', jti: 'a1b2c3d4-e5f6',
  name: 'José Müller-Łukasiewicz 李小龍', email: 'jose@example.com', email_verified: true, roles: ['admin', 'editor'],
  org_id: 'org_123', sid: 'sess-42',
})}.${Buffer.alloc(256, 7).toString('base64url')}`;

async function withPage(server, browser, fn) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  try { return await fn(page); } finally { await context.close(); }
}

async function decodeThroughput(server, browser) {
  writeFileSync(`${out}decoders.js`, await minified(`export { jwtDecode } from 'jwt-decode'; export { decodeJwt } from 'jose';`));
  return withPage(server, browser, (page) => page.evaluate(async ({ token, runs }) => {
    const { jwtDecode, decodeJwt: joseDecode } = await import('/bench/build/decoders.js');
    const ab = await import('/pkg/authbridge.js');
    await ab.default();
    const libs = { authbridge: (t) => ab.decodeJwt(t), 'jwt-decode': (t) => jwtDecode(t), jose: (t) => joseDecode(t) };
    for (const [name, f] of Object.entries(libs)) {
      if (f(token).name !== 'José Müller-Łukasiewicz 李小龍') throw new Error(`${name} decoded the token wrongly`);
    }
    const opsPerSecond = Object.fromEntries(Object.keys(libs).map((k) => [k, []]));
    for (let run = 0; run < runs; run++) {
      for (const [name, f] of Object.entries(libs)) {
        for (let i = 0; i < 2000; i++) f(token); // warm
        let n = 0;
        const t0 = performance.now();
        let t1 = t0;
        while (t1 - t0 < 400) { for (let i = 0; i < 200; i++) f(token); n += 200; t1 = performance.now(); }
        opsPerSecond[name].push(n / ((t1 - t0) / 1000));
      }
    }
    return opsPerSecond;
  }, { token: TOKEN, runs: RUNS }));
}

async function fetchOverhead(server, browser) {
  return withPage(server, browser, (page) => page.evaluate(async ({ runs }) => {
    const ab = await import('/pkg/authbridge.js');
    await ab.default();
    const auth = new ab.AuthClient({ tokenUrl: '/token', apiOrigins: [location.origin], storage: 'memory', autoRefresh: false });
    const token = await auth.accessToken();
    const url = `${location.origin}/api`;
    const byHand = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set('Authorization', `Bearer ${token}`);
      return fetch(input, { ...init, headers });
    };
    const clients = { authbridge: (u) => auth.fetch(u), 'hand-written wrapper': byHand, 'plain fetch': (u) => fetch(u) };

    // 1. The network stubbed: a fetch that resolves at once.
    const realFetch = globalThis.fetch;
    const response = new Response('ok');
    const stubbed = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
    globalThis.fetch = () => Promise.resolve(response);
    for (let run = 0; run < runs; run++) {
      for (const [name, f] of Object.entries(clients)) {
        for (let i = 0; i < 2000; i++) await f(url);
        const n = 20000;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await f(url);
        stubbed[name].push(((performance.now() - t0) * 1000) / n);
      }
    }
    globalThis.fetch = realFetch;

    // 2. End to end over loopback: one call of each client in turn, in a shuffled order, so that drift and
    // ordering hit all alike.
    const latencies = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
    for (let i = 0; i < 50; i++) for (const f of Object.values(clients)) await (await f(url)).text();
    const entries = Object.entries(clients);
    for (let i = 0; i < 200 * runs; i++) {
      for (let j = entries.length - 1; j > 0; j--) {
        const k = Math.floor(Math.random() * (j + 1));
        [entries[j], entries[k]] = [entries[k], entries[j]];
      }
      for (const [name, f] of entries) {
        const t0 = performance.now();
        await (await f(url)).text();
        latencies[name].push(performance.now() - t0);
      }
    }
    auth.free();
    return { stubbed, latencies, isolated: crossOriginIsolated };
  }, { runs: RUNS }));
}

async function storm(server, browser) {
  const rows = [];
  for (let run = 0; run < RUNS; run++) {
    rows.push(await withPage(server, browser, async (page) => {
      const before = server.counts.token;
      const r = await page.evaluate(async () => {
        const ab = await import('/pkg/authbridge.js');
        await ab.default();
        // Counts the bridge calls the page makes (the server's count would include the browser's own resends).
        let sent = 0;
        const realFetch = globalThis.fetch;
        globalThis.fetch = (input, init) => {
          if (String(input?.url ?? input).includes('/token?')) sent++;
          return realFetch(input, init);
        };
        const auth = new ab.AuthClient({ tokenUrl: `/token?storm=${Math.random()}`, apiOrigins: [location.origin], storage: 'memory', autoRefresh: false });
        await auth.accessToken();
        sent = 0;
        // Wait until the token is no longer usable, then 1000 calls at once.
        await new Promise((r) => setTimeout(r, auth.expiresAt() - Date.now() + 20));
        const t0 = performance.now();
        const statuses = await Promise.all(Array.from({ length: 1000 }, () => auth.fetch('/api').then((r) => r.status)));
        const ms = performance.now() - t0;
        const pageSent = sent;
        globalThis.fetch = realFetch;
        const calls = await fetch('/token-count').then((r) => r.json());
        auth.free();
        // The same 1000 requests without authbridge: what the browser and the server take anyway.
        const p0 = performance.now();
        await Promise.all(Array.from({ length: 1000 }, () => fetch('/api').then((r) => r.status)));
        return { ms, plainMs: performance.now() - p0, calls, pageSent, ok: statuses.every((s) => s === 200) };
      });
      if (!r.ok) throw new Error('storm: a call failed');
      return { ms: r.ms, plainMs: r.plainMs, bridgeCalls: r.pageSent, serverCalls: r.calls - before - 1 };
    }));
  }
  return rows;
}

// From the page's first script to the first authenticated API response (bench/pages/): authbridge on the README's
// path (preload links, import, init, new AuthClient with default options, start(), fetch()), and without the
// preload links, against a hand-written client making the same two requests, inlined in its page (the baseline of
// the targets), as a module file of its own (what loading a page's own code costs), and after loading authbridge
// without running it (what any page using it pays before its first call). Each run is a fresh browser
// context: its first page loads everything over loopback (not cached), a second page (a new tab, empty
// sessionStorage, the first one closed) loads from the HTTP cache (first visit, cached), then that tab reloads (the
// token in sessionStorage: no bridge call).
const COLD_PAGES = { authbridge: '/bench/pages/authbridge.html', 'authbridge, no preload': '/bench/pages/authbridge.html?preload=0',
  'by hand': '/bench/pages/by-hand.html?inline=1', 'by hand, module file': '/bench/pages/by-hand.html',
  'by hand, authbridge loaded': '/bench/pages/floor.html' };

const tokenCount = async (server) => Number(await (await fetch(`${server}/token-count`)).text());

async function loadPage(page, url, reload, server) {
  const before = await tokenCount(server);
  if (reload) await page.reload({ waitUntil: 'commit' }); else await page.goto(url, { waitUntil: 'commit' });
  // The page settles `finished` (made by its first script): no polling in the page meanwhile.
  const r = await page.evaluate(async () => {
    const r0 = await window.finished;
    const timing = (path) => performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname === path)
      .map((e) => ({ start: e.startTime, end: e.responseEnd }))[0] ?? null;
    return { ...r0, token: timing('/token'), api: timing('/api') };
  });
  if (r.body !== 'ok' || r.signedIn !== true) throw new Error(`cold start: ${url} got ${r.status} ${r.body}`);
  return { ...r, bridgeCalls: await tokenCount(server) - before };
}

/** The steps of one load, in ms: each from the end of the one before (see COLD_STEPS). */
function coldSteps(r) {
  const m = r.marks;
  const s = { total: m.done - r.t0, bridgeCalls: r.bridgeCalls };
  if (m.glue !== undefined) {
    Object.assign(s, { importGlue: m.glue - r.t0, compile: m.compile - m.glue, instantiate: m.instantiate - m.compile,
      construct: m.construct - m.instantiate });
    // The bridge's lock (not the presence lock, held for the client's life, whose grant nothing waits for).
    const locks = r.log.filter((e) => e.kind === 'lock' && !e.name.endsWith(':present'));
    s.lockWait = locks.reduce((n, e) => n + (e.granted - e.asked), 0);
    s.peerQuery = r.log.filter((e) => e.kind === 'query').reduce((n, e) => n + (e.answered - e.asked), 0);
    s.peerAsk = r.log.some((e) => e.kind === 'post' && e.type === 'ask') ? 1 : 0;
    if (r.token) {
      Object.assign(s, { startToBridge: r.token.start - m.construct, bridge: r.token.end - r.token.start,
        bridgeToStarted: m.started - r.token.end });
    } else {
      s.startRestore = m.started - m.construct;
    }
  } else if (r.token) {
    Object.assign(s, { beforeBridge: r.token.start - r.t0, bridge: r.token.end - r.token.start, bridgeToStarted: m.started - r.token.end });
  } else {
    s.startRestore = m.started - r.t0;
  }
  Object.assign(s, { startedToApi: r.api.start - m.started, api: r.api.end - r.api.start, apiToDone: m.done - r.api.end });
  return s;
}

async function coldStartChromium(browser) {
  // The pages' server in a process of its own (see bench/server.mjs).
  const child = spawn(process.execPath, [`${bench}server.mjs`, root], { stdio: ['pipe', 'pipe', 'inherit'] });
  const server = (await once(child.stdout, 'data'))[0].toString().trim();
  try {
    return await coldRuns(server, browser);
  } finally {
    child.stdin.end();
    await once(child, 'exit');
  }
}

async function coldRuns(server, browser) {
  const names = Object.keys(COLD_PAGES);
  const rows = Object.fromEntries(names.map((name) => [name, { uncached: [], cached: [], reload: [] }]));
  for (let run = 0; run < RUNS; run++) {
    // Alternating the order, so that drift on this shared machine hits all alike.
    const order = run % 2 ? [...names].reverse() : names;
    for (const name of order) {
      const context = await browser.newContext();
      try {
        const url = `${server}${COLD_PAGES[name]}`;
        const first = await context.newPage();
        rows[name].uncached.push(coldSteps(await loadPage(first, url, false, server)));
        await first.close();
        const page = await context.newPage();
        rows[name].cached.push(coldSteps(await loadPage(page, url, false, server)));
        rows[name].reload.push(coldSteps(await loadPage(page, url, true, server)));
      } finally {
        await context.close();
      }
    }
  }
  return rows;
}

// Asynchronous: the bench server answers from this process meanwhile.
const run = promisify(execFile);

async function coldStartWorkerd(server) {
  const { stdout } = await run(process.execPath, [`${bench}cold-start-workerd.mjs`, server.url, 'bench-user', 'bench-key', String(RUNS)]);
  return JSON.parse(stdout.trim().split('\n').pop());
}

async function stampede() {
  const { stdout } = await run('cargo', ['run', '--quiet', '--release', '--example', 'stampede'], { cwd: root, maxBuffer: 1 << 26 });
  return JSON.parse(stdout);
}

// ------------------------------------------------------------------------------------------------ report
function report(r) {
  const L = [];
  const ab = r.size[0];
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  L.push('# authbridge benchmarks', '',
    `Generated by \`make bench\` on ${r.date} (${cpu}, ${cpus().length} cores, Chromium ${r.chromium}, Node ${process.version}).`,
    `Medians over ${RUNS} runs unless stated. Ratios are authbridge ÷ the other.`, '');

  L.push('## 1. Download size', '',
    'What a user ships: authbridge\'s `.wasm` plus its JS glue, minified (the browser build, which the package gives under',
    'the `browser` and `worker` conditions; the universal build, which Node, Deno and workerd load, on the second row);',
    'each anchor bundled and minified by esbuild',
    '(ESM, browser), importing just the entry point named. gzip -9 and brotli -11, in kB (1000 bytes).', '',
    '| library | version | minified | gzip | brotli | authbridge gzip ÷ this |', '|---|---|---:|---:|---:|---:|');
  for (const s of r.size) {
    L.push(`| ${s.name}${s.full ? '' : ' (decode only)'} | ${s.version} | ${kb(s.raw)} | ${kb(s.gzip)} | ${kb(s.brotli)} | ${(ab.gzip / s.gzip).toFixed(2)} |`);
  }
  const fullAnchors = r.size.slice(2).filter((s) => s.full);
  const smallest = fullAnchors.reduce((a, b) => (a.gzip < b.gzip ? a : b));
  L.push('', `authbridge: wasm ${kb(ab.parts.wasm.gzip)} kB + glue ${kb(ab.parts.glue.gzip)} kB gzip. Ceiling (issue 22: a ceiling, not a target to golf): at most 55 kB — **${ab.gzip <= 55000 ? 'met' : 'missed'}** (${ab.gzip.toLocaleString('en')} B). For comparison, the smallest full-featured anchor here: ${smallest.name}, ${kb(smallest.gzip)} kB.`, '');

  const ops = Object.fromEntries(Object.entries(r.decode).map(([k, v]) => [k, median(v)]));
  L.push('## 2. JWT decode throughput (headless Chromium)', '',
    'The same token for all: RS256 header with `kid`, 15 claims including a name in Latin, Polish and Chinese script.', '',
    '| library | ops/s | authbridge ÷ this |', '|---|---:|---:|');
  for (const [k, v] of Object.entries(ops)) L.push(`| ${k} | ${Math.round(v).toLocaleString('en')} | ${(ops.authbridge / v).toFixed(2)} |`);
  L.push('', `Target (issue 25): at least jose's — **${ops.authbridge >= ops.jose ? 'met' : 'missed'}** (${(ops.authbridge / ops.jose).toFixed(2)}×).`, '');

  const stub = Object.fromEntries(Object.entries(r.fetch.stubbed).map(([k, v]) => [k, median(v)]));
  const lat = r.fetch.latencies;
  const overhead = stub.authbridge - stub['hand-written wrapper'];
  L.push('## 3. Authenticated-fetch overhead (headless Chromium)', '',
    'Per call, awaited one after another, with `fetch` replaced by a stub that resolves at once (20,000 calls per run), and end to end',
    `over loopback to a same-origin endpoint (${lat.authbridge.length} calls each, interleaved call by call in shuffled order;`,
    `timer resolution ${r.fetch.isolated ? '5 µs, the page is cross-origin isolated' : '100 µs'}). The hand-written wrapper sets the same`,
    '`Authorization` header from a token it already holds.', '',
    '| client | stubbed µs/call | loopback p50 ms | loopback p99 ms |', '|---|---:|---:|---:|');
  for (const k of Object.keys(stub)) {
    L.push(`| ${k} | ${stub[k].toFixed(2)} | ${percentile(lat[k], 0.5).toFixed(3)} | ${percentile(lat[k], 0.99).toFixed(3)} |`);
  }
  const p50ratio = percentile(lat.authbridge, 0.5) / percentile(lat['hand-written wrapper'], 0.5);
  L.push('', `Overhead over the wrapper with the stub: ${overhead.toFixed(2)} µs/call — target ≤ 2 µs: **${overhead <= 2 ? 'met' : 'missed'}**.`,
    `End-to-end p50 vs the wrapper: ${p50ratio.toFixed(3)}× — target ≤ 1.02×: **${p50ratio <= 1.02 ? 'met' : 'missed'}**.`, '');

  L.push('## 4. Refresh storm (headless Chromium)', '',
    '1000 concurrent `auth.fetch` calls the moment the token has expired (a 2 s token, `autoRefresh: false`; the refreshed',
    'token lives an hour). Bridge calls counted in the page.', '',
    '| run | bridge calls | all 1000 done in ms | the same 1000 plain `fetch` calls, ms |', '|---:|---:|---:|---:|');
  r.storm.forEach((s, i) => L.push(`| ${i + 1} | ${s.bridgeCalls} | ${s.ms.toFixed(1)} | ${s.plainMs.toFixed(1)} |`));
  L.push('', `Target: 1 bridge call — **${r.storm.every((s) => s.bridgeCalls === 1) ? 'met' : 'missed'}**. A wrapper that refreshes whenever its token is expired, without a single flight, makes 1000.`, '');

  const cold = (name, kase, key) => {
    const xs = r.cold[name][kase].map((c) => c[key]).filter((x) => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  const ms = (x) => (x === undefined ? '—' : x.toFixed(2));
  const CASES = [['cached', 'first visit, cached'], ['reload', 'reload (token stored), cached'], ['uncached', 'first visit, not cached']];
  L.push('## 5. Cold start: from the first script to the first authenticated API response', '',
    'Chromium, a fresh browser context per run (`bench/pages/`): authbridge on the README\'s path (the preload links of *A page\'s',
    'first load*, `import`, `init()` in its two halves, `compileStreaming` then instantiate, `new AuthClient` with default options,',
    '`start()`, `fetch()`; the steps below), and without the preload links, against a hand-written client making the same two',
    'requests (the same bridge `POST`, then the API with the token; the token kept in sessionStorage), inlined in its page (the',
    'targets\' baseline) and loaded as a module file like a page\'s own code.',
    '*First visit, not cached*: the context\'s first page, everything over loopback. *First visit, cached*: a new tab (the first one',
    'closed), the package from the HTTP cache, sessionStorage empty. *Reload*: that tab again, the token stored (no bridge call).',
    'Steps are medians each, so they need not add up to the total; the bridge and API calls are the browser\'s resource timing.', '',
    `| step | ${CASES.map(([, l]) => l).join(' | ')} |`, `|---|${CASES.map(() => '---:').join('|')}|`);
  for (const [k, label] of [['importGlue', 'import the JS glue'], ['compile', 'compile (`compileStreaming`)'], ['instantiate', 'instantiate'],
    ['construct', '`new AuthClient`'], ['startToBridge', '`start()` until the bridge request (storage, peers, lock)'],
    ['peerQuery', 'of which finding whether a peer is alive (Web Locks query)'], ['lockWait', 'of which the Web Lock, asked to granted'],
    ['peerAsk', 'peers asked (1) or not (0)'],
    ['bridge', 'the bridge call'], ['bridgeToStarted', 'bridge response to `start()` resolved'], ['startRestore', '`start()` restoring the stored token'],
    ['startedToApi', '`start()` resolved to the API request'], ['api', 'the API call'], ['apiToDone', 'API response to its body read']]) {
    L.push(`| ${label} | ${CASES.map(([c]) => ms(cold('authbridge', c, k))).join(' | ')} |`);
  }
  const total = (name) => CASES.map(([c]) => ms(cold(name, c, 'total'))).join(' | ');
  L.push(`| **authbridge, total** | ${CASES.map(([c]) => `**${ms(cold('authbridge', c, 'total'))}**`).join(' | ')} |`,
    `| authbridge without the preload links, total | ${total('authbridge, no preload')} |`,
    `| of which importing the JS (no preload) | ${CASES.map(([c]) => ms(cold('authbridge, no preload', c, 'importGlue'))).join(' | ')} |`,
    `| of which compiling (no preload) | ${CASES.map(([c]) => ms(cold('authbridge, no preload', c, 'compile'))).join(' | ')} |`,
    `| hand-written client inlined in the page, total | ${total('by hand')} |`,
    `| of which its bridge call | ${CASES.map(([c]) => ms(cold('by hand', c, 'bridge'))).join(' | ')} |`,
    `| of which its API call | ${CASES.map(([c]) => ms(cold('by hand', c, 'api'))).join(' | ')} |`,
    `| hand-written client as a module file, total | ${total('by hand, module file')} |`,
    `| the same after loading authbridge without running it (its JS imported, its \`.wasm\` compiled; \`bench/pages/floor.html\`), total | ${total('by hand, authbridge loaded')} |`,
    `| bridge calls (authbridge, by hand) | ${CASES.map(([c]) => `${cold('authbridge', c, 'bridgeCalls')}, ${cold('by hand', c, 'bridgeCalls')}`).join(' | ')} |`);
  const ratio = (c, base = 'by hand', name = 'authbridge') => cold(name, c, 'total') / cold(base, c, 'total');
  const verdict = (x, t) => `${x.toFixed(2)}× (**${x <= t ? 'met' : 'missed'}**)`;
  L.push('', `authbridge ÷ hand-written inlined, target ≤ 1.25× with the \`.wasm\` cached: first visit ${verdict(ratio('cached'), 1.25)}, reload ${verdict(ratio('reload'), 1.25)}; not cached (reported): ${ratio('uncached').toFixed(2)}×.`,
    `Against the hand-written client in a module file of its own (a page's code is loaded too): first visit ${ratio('cached', 'by hand, module file').toFixed(2)}×, reload ${ratio('reload', 'by hand, module file').toFixed(2)}×, not cached ${ratio('uncached', 'by hand, module file').toFixed(2)}×.`,
    `Loading authbridge without running any of it, over the hand-written client inlined: first visit ${ratio('cached', 'by hand', 'by hand, authbridge loaded').toFixed(2)}×, reload ${ratio('reload', 'by hand', 'by hand, authbridge loaded').toFixed(2)}×, not cached ${ratio('uncached', 'by hand', 'by hand, authbridge loaded').toFixed(2)}×; authbridge over that: first visit ${ratio('cached', 'by hand, authbridge loaded').toFixed(2)}×, reload ${ratio('reload', 'by hand, authbridge loaded').toFixed(2)}× (what running it costs).`,
    `The preload links: first visit ${ratio('cached', 'authbridge, no preload').toFixed(2)}×, reload ${ratio('reload', 'authbridge, no preload').toFixed(2)}×, not cached ${ratio('uncached', 'authbridge, no preload').toFixed(2)}× the time without them.`, '');
  const w = r.workerd.medianMs;
  const wr = (k) => w[`authbridge${k}`] / w[`byHand${k}`];
  L.push('workerd (Miniflare, a fresh workerd per run, `bench/cold-start-workerd.mjs`): each worker gets a token from a Point-format',
    'endpoint and calls the API with it; the client (or the hand-written worker\'s token) is kept for the isolate, so the second request',
    'makes no bridge call. Times from `dispatchFetch` to the response\'s body, ms (median).', '',
    '| | authbridge | by hand | ratio | target |', '|---|---:|---:|---:|---|',
    `| first request (token from the bridge) | ${w.authbridgeFirst} | ${w.byHandFirst} | ${wr('First').toFixed(2)}× | ≤ 1.5×: **${wr('First') <= 1.5 ? 'met' : 'missed'}** |`,
    `| second request (token kept) | ${w.authbridgeSecond} | ${w.byHandSecond} | ${wr('Second').toFixed(2)}× | ≤ 1.5×: **${wr('Second') <= 1.5 ? 'met' : 'missed'}** |`,
    `| third request: the first one's work again on the warm isolate (a new client, or a new token by hand) | ${w.authbridgeWarm} | ${w.byHandWarm} | ${wr('Warm').toFixed(2)}× | — |`,
    `| workerd startup (\`mf.ready\`: the module compiled) | ${w.authbridgeReady} | ${w.byHandReady} | ${wr('Ready').toFixed(2)}× | — |`, '',
    `The first request over the third, which does the same work on the warm isolate: authbridge +${(w.authbridgeFirst - w.authbridgeWarm).toFixed(1)} ms, by hand +${(w.byHandFirst - w.byHandWarm).toFixed(1)} ms: what running the code for the first time costs (for authbridge, V8 compiling each wasm function at its first call).`, '');

  const st = r.stampede;
  L.push('## 6. Stampede at scale (native simulation, the real scheduler)', '',
    `${st.clients.toLocaleString('en')} clients, ${st.lifetimeSeconds / 60}-minute tokens all issued in the same second; three refresh rounds.`, '',
    '| round | refreshes start after issue (s) | window (s) | mean/s | peak/s | peak ÷ mean |', '|---|---:|---:|---:|---:|---:|');
  st.rounds.forEach((x, i) => L.push(`| ${i + 1} | ${x.startsAfterIssueSeconds} | ${x.windowSeconds} | ${x.meanPerSecond} | ${x.peakPerSecond} | ${x.peakToMean} |`));
  L.push(`| fixed margin, no jitter | ${st.fixedMargin.startsAfterIssueSeconds} | ${st.fixedMargin.windowSeconds} | ${st.fixedMargin.meanPerSecond} | ${st.fixedMargin.peakPerSecond} | — |`);
  L.push('', `Target: the stampede's peak at most 2× the mean over its refresh window — **${st.rounds[0].peakToMean <= 2 ? 'met' : 'missed'}** (${st.rounds[0].peakToMean}×).`,
    'Later rounds spread further (each client\'s jitter adds up), so their peak rate keeps falling; their peak ÷ mean over the',
    'wider window reflects the triangular spread of two jitters, not a stampede.', '');
  // Section 7 is measured by hand (a before/after build per change) and kept in its own file.
  L.push(readFileSync(`${bench}dependency-costs.md`, 'utf8').trimEnd(), '');
  L.push(rustAppSection(r.rustApp).trimEnd());
  return L.join('\n');
}

// `node bench/run.mjs [measure…]` runs only those (and prints their raw results); no argument runs all and
// writes RESULTS.md.
const MEASURES = {
  size: () => sizes(),
  decode: () => decodeThroughput(server, browser),
  fetch: () => fetchOverhead(server, browser),
  storm: () => storm(server, browser),
  cold: () => coldStartChromium(browser),
  workerd: () => coldStartWorkerd(server),
  stampede: () => stampede(),
  rustApp: () => rustAppSizes(),
};
const only = process.argv.slice(2);
const server = await startServer(root);
const browser = await launchChromium();
try {
  const results = { date: new Date().toISOString().slice(0, 10), chromium: browser.version() };
  for (const [name, measure] of Object.entries(MEASURES)) {
    if (only.length && !only.includes(name)) continue;
    log(name);
    results[name] = await measure();
  }
  if (only.length) {
    const summary = (k, v) => {
      if (k === 'histogram') return undefined;
      if (k === 'latencies') {
        return Object.fromEntries(Object.entries(v).map(([c, xs]) => [c, { p50: percentile(xs, 0.5), p99: percentile(xs, 0.99) }]));
      }
      return v;
    };
    console.log(JSON.stringify(results, summary, 1));
  } else {
    writeFileSync(`${out}results.json`, JSON.stringify(results, null, 1));
    const md = report(results);
    writeFileSync(`${bench}RESULTS.md`, `${md}\n`);
    console.log(md);
  }
} finally {
  await browser.close();
  await server.close();
}
