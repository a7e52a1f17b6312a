// A Deno server that serves GET /me from the Point Database API with a user token it obtains and refreshes
// itself. The Point apiKey comes from the environment (POINT_API_KEY), never from code.
import { AuthClient } from 'authbridge';

const env = (name: string): string => Deno.env.get(name) ?? (() => { throw new Error(`${name} is not set`); })();
const pointUrl = env('POINT_URL');

// One client for the process: the token is reused across requests until it nears expiry.
const auth = new AuthClient({
  tokenUrl: `${pointUrl}/users/${env('POINT_USER_ID')}/access_token`,
  apiOrigins: [new URL(pointUrl).origin],
  format: 'point',
  storage: 'memory',
  bridgeHeaders: { Authorization: `Bearer ${env('POINT_API_KEY')}` },
});

const UNAVAILABLE = new Set(['bridge_unavailable', 'network', 'timeout', 'invalid_response']);

Deno.serve({ hostname: '127.0.0.1', port: Number(Deno.env.get('PORT') ?? 8000), onListen: ({ port }) => console.log(`listening ${port}`) }, async (request) => {
  if (new URL(request.url).pathname !== '/me') return new Response('not found', { status: 404 });
  try {
    const res = await auth.fetch(`${pointUrl}/api/point/me`);
    return new Response(res.body, { status: res.status, headers: { 'content-type': 'application/json' } });
  } catch (e) {
    const err = e as { code?: string; message: string };
    const status = UNAVAILABLE.has(err.code ?? '') ? 502 : err.code === 'refresh_rejected' || err.code === 'signed_out' ? 401 : 500;
    return Response.json({ error: err.code ?? 'internal', message: err.message }, { status });
  }
});
