// A Node 20+ server that serves GET /me from the Point Database API with a user token it obtains and refreshes
// itself. The Point apiKey comes from the environment (POINT_API_KEY), never from code.
import { createServer } from 'node:http';
import { AuthClient } from 'authbridge';

const { POINT_URL, POINT_USER_ID, POINT_API_KEY, PORT = '8000' } = process.env;
if (!POINT_URL || !POINT_USER_ID || !POINT_API_KEY) throw new Error('set POINT_URL, POINT_USER_ID and POINT_API_KEY');

const auth = new AuthClient({
  tokenUrl: `${POINT_URL}/users/${POINT_USER_ID}/access_token`,
  apiOrigins: [new URL(POINT_URL).origin],
  format: 'point',
  storage: 'memory',
  bridgeHeaders: { Authorization: `Bearer ${POINT_API_KEY}` },
});

const UNAVAILABLE = new Set(['bridge_unavailable', 'network', 'timeout', 'invalid_response']);

const server = createServer(async (req, res) => {
  if (req.url !== '/me') { res.writeHead(404).end('not found'); return; }
  try {
    const upstream = await auth.fetch(`${POINT_URL}/api/point/me`);
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
  } catch (e) {
    const status = UNAVAILABLE.has(e.code) ? 502 : e.code === 'refresh_rejected' || e.code === 'signed_out' ? 401 : 500;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.code ?? 'internal', message: e.message }));
  }
});
server.listen(Number(PORT), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
