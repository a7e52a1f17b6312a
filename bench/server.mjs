// The benchmark's one origin on 127.0.0.1: the repository's files (pkg/, bench/build/), a token endpoint that
// counts its calls, and an API that answers at once. One origin, so no CORS preflight skews the latencies.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (claims) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;

/**
 * A cold-start page as its query asks (bench/pages/): `?preload=0` leaves out its preload links; `?inline=1` puts
 * the text of each `<script type="module" src>` of the page in its tag (the same code, with no file to load).
 * @param {string} html @param {URLSearchParams} query @param {string} root
 */
async function variant(html, query, root) {
  if (query.get('preload') === '0') html = html.replace(/^<link rel="(?:module)?preload"[^>]*>\n/gm, '');
  if (query.get('inline') === '1') {
    const tags = [...html.matchAll(/<script type="module" src="\/cached(\/[^"]+)"><\/script>/g)];
    for (const [tag, path] of tags) html = html.replace(tag, `<script type="module">\n${await readFile(join(root, path), 'utf8')}</script>`);
  }
  return html;
}

export async function startServer(root) {
  const counts = { token: 0 };
  const stormsSeen = new Set();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/token' || /^\/users\/[^/]+\/access_token$/.test(url.pathname)) {
      counts.token++;
      for await (const _ of req);
      // `?storm=<id>`: the first token of that id lives 2 s, later ones an hour (the storm's refresh must not
      // expire while its 1000 requests are still being sent).
      const storm = url.searchParams.get('storm');
      const first = storm !== null && !stormsSeen.has(storm);
      if (storm !== null) stormsSeen.add(storm);
      const life = first ? 2 : Number(url.searchParams.get('life') ?? 3600);
      const iat = Math.floor(Date.now() / 1000);
      const token = jwt({ sub: 'user-1', iat, exp: iat + life, n: counts.token });
      const body = url.pathname === '/token'
        ? { access_token: token, token_type: 'Bearer', expires_in: life }
        : { accessToken: { token: `Bearer ${token}`, expiresIn: life } }; // Point Database's shape
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(JSON.stringify(body));
    }
    if (url.pathname === '/token-count') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return res.end(String(counts.token));
    }
    if (url.pathname === '/api') {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      // `ok` only to a request that carries a token, so that a benchmark can tell it was attached.
      return res.end(/^Bearer ./.test(req.headers.authorization ?? '') ? 'ok' : 'anonymous');
    }
    if (url.pathname === '/') {
      // Cross-origin isolated, so that performance.now() has 5 µs resolution instead of 100 µs.
      res.writeHead(200, { 'content-type': 'text/html', 'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp' });
      return res.end('<!doctype html><meta charset="utf-8"><title>authbridge bench</title>');
    }
    // `/cached/…`: the same files, cacheable for an hour (the cold-start pages load the package from the HTTP
    // cache this way); everything else is never cached.
    const cached = url.pathname.startsWith('/cached/');
    const file = normalize(join(root, cached ? url.pathname.slice('/cached'.length) : url.pathname));
    if (!file.startsWith(normalize(root + sep))) return res.writeHead(403).end();
    try {
      let body = await readFile(file);
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      if (type === 'text/html') body = await variant(body.toString(), url.searchParams, root);
      // Pages are cross-origin isolated like `/` (5 µs timers).
      const isolation = type === 'text/html'
        ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
      res.writeHead(200, { 'content-type': type, 'cache-control': cached ? 'max-age=3600' : 'no-store', ...isolation });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}

// `node bench/server.mjs <root>`: the same server in a process of its own (the cold-start pages are served this
// way, so that the benchmark's own process, busy with the browser's protocol traffic, cannot delay an answer). It
// prints its URL and stops when its standard input closes.
if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startServer(process.argv[2]);
  console.log(server.url);
  process.stdin.resume();
  process.stdin.on('end', () => server.close().then(() => process.exit(0)));
}
