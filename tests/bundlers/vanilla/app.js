// The same sign-in flow for every bundler; only the way the module is initialised differs (see main*.js).
import { AuthClient, decodeJwt } from 'authbridge';

export async function run(initialise) {
  try {
    await initialise();
    // Same origin as the reference bridge: its CSRF cookie, then a password sign-in, then the client.
    const { csrfToken } = await (await fetch('/csrf')).json();
    const signIn = await fetch('/session', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }),
    });
    if (!signIn.ok) throw new Error(`sign-in answered ${signIn.status}`);
    const client = new AuthClient({ tokenUrl: '/auth/point/token', apiOrigins: [location.origin],
      bridgeHeaders: { 'X-CSRF-Token': csrfToken } });
    const started = await client.start();
    const me = await client.fetch('/api/point/me');
    const claims = decodeJwt(await client.accessToken());
    await client.signOut();
    client.free();
    report({ started, api: me.status, apiSub: (await me.json()).sub, sub: claims.sub });
  } catch (e) {
    report({ error: `${e?.name}: ${e?.message}`, code: e?.code });
  }
}

function report(result) {
  window.result = result;
  document.getElementById('out').textContent = JSON.stringify(result);
}
