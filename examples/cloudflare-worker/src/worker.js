// A Cloudflare Worker that serves GET /me from the Point Database API. The worker is itself a backend: it holds
// the Point apiKey (a secret binding, never in code) and asks Point's token endpoint directly for user tokens.
import { AuthClient } from 'authbridge';

// One client per isolate: its token is reused across requests until it nears expiry, and concurrent requests
// share one refresh.
let auth;

function client(env) {
  auth ??= new AuthClient({
    tokenUrl: `${env.POINT_URL}/users/${env.POINT_USER_ID}/access_token`,
    apiOrigins: [new URL(env.POINT_URL).origin],
    format: 'point',
    storage: 'memory',
    bridgeHeaders: { Authorization: `Bearer ${env.POINT_API_KEY}` },
  });
  return auth;
}

const UNAVAILABLE = new Set(['bridge_unavailable', 'network', 'timeout', 'invalid_response']);

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname !== '/me') return new Response('not found', { status: 404 });
    try {
      const res = await client(env).fetch(`${env.POINT_URL}/api/point/me`);
      return new Response(res.body, { status: res.status, headers: { 'content-type': 'application/json' } });
    } catch (e) {
      const status = UNAVAILABLE.has(e.code) ? 502 : e.code === 'refresh_rejected' || e.code === 'signed_out' ? 401 : 500;
      return Response.json({ error: e.code ?? 'internal', message: e.message }, { status });
    }
  },
};
