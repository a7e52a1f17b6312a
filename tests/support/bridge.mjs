// A scriptable bridging backend for the tests: mints tokens in each seed provider's response shape, fails on
// demand, counts every call, and echoes what API calls carried. Listens on 127.0.0.1 only.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
export const makeJwt = (claims) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
// Wazo's expires_at: ISO 8601 without a zone, microseconds.
const wazoTime = (ms) => new Date(ms).toISOString().replace('Z', '000');

function tokenResponse(scenario, life, stats) {
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  // jti: two test bridges must never mint the same token.
  const jwt = makeJwt({ sub: 'user-1', name: 'José Müller', iat, exp: iat + life, n: stats.calls, jti: randomUUID() });
  switch (scenario) {
    case 'oauth2': return [jwt, { access_token: jwt, refresh_token: 'RT-secret-never-in-browser', expires_in: life, token_type: 'Bearer' }];
    case 'point': return [jwt, { accessToken: { token: `Bearer ${jwt}`, expiresIn: life } }];
    case 'wazo': {
      const token = randomUUID();
      return [token, { data: { token, refresh_token: 'RT-wazo-secret', expires_at: wazoTime(now + life * 1000), utc_expires_at: wazoTime(now + life * 1000), acl: ['confd.users.me.read'] } }];
    }
    case 'static': { const token = `afp_${randomUUID().replaceAll('-', '')}`; return [token, { token, scopes: ['workspace:read'] }]; }
    default: return [null, null];
  }
}

export function startBridge({ port = 0 } = {}) {
  const stats = new Map();
  const statsFor = (key) => {
    if (!stats.has(key)) stats.set(key, { calls: 0, callTimes: [], revokes: [], issued: [], apiCalls: [] });
    return stats.get(key);
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const origin = req.headers.origin;
    const cors = origin ? {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-headers': 'authorization, x-auth-token, content-type, x-csrf-token, x-custom',
      'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
      'access-control-expose-headers': 'retry-after, date',
    } : {};
    const send = (status, body, headers = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...cors, ...headers });
      res.end(text);
    };
    const key = url.searchParams.get('key') ?? 'default';
    const s = statsFor(key);
    if (req.method === 'OPTIONS') return send(204, '');
    const parts = url.pathname.split('/').filter(Boolean);
    let body = '';
    for await (const chunk of req) body += chunk;

    if (parts[0] === 'token' && req.method === 'POST') {
      s.calls++;
      s.callTimes.push(Date.now());
      s.lastBridgeHeaders = req.headers;
      const scenario = parts[1];
      const life = Number(url.searchParams.get('life') ?? 3600);
      const fault = s.script?.find((f) => f.count > 0);
      if (fault) {
        fault.count--;
        const extra = fault.retryAfter ? { 'retry-after': fault.retryAfter } : {};
        const type = fault.contentType ? { 'content-type': fault.contentType } : {};
        switch (fault.kind) {
          case 'status': return send(fault.status, fault.body ?? { error: 'injected' }, { ...extra, ...type });
          case 'reset': req.socket.destroy(); return;
          // Headers and part of the body, then the connection drops.
          case 'cut': {
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100', ...cors });
            res.write('{"access_token":"eyJ');
            setTimeout(() => req.socket.destroy(), 20);
            return;
          }
          case 'body': return send(200, fault.body, type);
          case 'slow': await new Promise((r) => setTimeout(r, fault.delayMs)); break;
          case 'token': {
            const now = Math.floor(Date.now() / 1000);
            const body = { access_token: makeJwt({ sub: 'user-1', iat: now, exp: now + (fault.exp ?? 3600) }) };
            if ('expiresIn' in fault) body.expires_in = fault.expiresIn;
            return send(200, body, type);
          }
        }
      }
      if (s.failNext > 0) { s.failNext--; return send(503, { error: 'unavailable' }, { 'retry-after': '0' }); }
      switch (scenario) {
        case 'reject': return send(401, { error: 'no_session' });
        case 'fail500': return send(500, { error: 'boom' });
        case 'html': return send(200, '<html>oops</html>', { 'content-type': 'text/html' });
        case 'slow': await new Promise((r) => setTimeout(r, 3000)); break;
        case 'expired': return send(200, { access_token: makeJwt({ exp: Math.floor(Date.now() / 1000) - 60 }), expires_in: 3600 });
      }
      const [token, response] = tokenResponse(scenario === 'slow' ? 'oauth2' : scenario, life, s);
      if (!response) return send(404, { error: 'unknown scenario' });
      s.issued.push(token);
      return send(200, response);
    }
    if (parts[0] === 'token' && req.method === 'DELETE') {
      s.revokes.push({ authorization: req.headers.authorization ?? null, xAuthToken: req.headers['x-auth-token'] ?? null });
      // `revoke=503`: a bridge that does not confirm the sign-out.
      const status = Number(url.searchParams.get('revoke') ?? 204);
      return send(status, status === 204 ? '' : { error: 'injected' });
    }
    if (parts[0] === 'stats') return send(200, { calls: s.calls, revokes: s.revokes, issued: s.issued.length, apiCalls: s.apiCalls, bridgeHeaders: s.lastBridgeHeaders ?? null });
    // Scripted faults for the next token calls: [{kind, count, …}] (see the token handler); [] heals.
    if (parts[0] === 'script' && req.method === 'POST') { s.script = JSON.parse(body); return send(200, {}); }
    // `code=307`: a redirect that keeps the method and body.
    if (parts[0] === 'redirect') return send(Number(url.searchParams.get('code') ?? 302), '', { location: url.searchParams.get('to') });
    if (parts[0] === 'fail' && req.method === 'POST') { s.failNext = Number(url.searchParams.get('n') ?? 1); return send(200, {}); }
    if (parts[0] === 'api') {
      const presented = req.headers['x-auth-token'] ?? (req.headers.authorization ?? '').replace(/^Bearer /, '');
      s.apiCalls.push({
        path: url.pathname, to: url.searchParams.get('to'), authorization: req.headers.authorization ?? null, xAuthToken: req.headers['x-auth-token'] ?? null,
        cookie: req.headers.cookie ?? null, proxyAuthorization: req.headers['proxy-authorization'] ?? null, custom: req.headers['x-custom'] ?? null, body,
      });
      const latest = s.issued[s.issued.length - 1];
      switch (parts[1]) {
        case 'echo': return send(200, { authorization: req.headers.authorization ?? null, xAuthToken: req.headers['x-auth-token'] ?? null, custom: req.headers['x-custom'] ?? null, method: req.method, body });
        // 401 unless the newest token is presented: the first call after a rotation on the server fails.
        case 'latest': return presented && presented === latest ? send(200, { ok: true, body }) : send(401, { error: 'stale' });
        case 'always401': return send(401, { error: 'nope' });
        case 'me': return s.issued.includes(presented) ? send(200, { sub: 'user-1' }) : send(401, { error: 'unknown token' });
      }
    }
    send(404, { error: 'not found' });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        stats: (key = 'default') => statsFor(key),
        // Make the server stale-rotate: issue a new token server-side so the client's becomes outdated.
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
      });
    });
  });
}
