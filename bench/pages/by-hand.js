// The baseline of `make bench` section 5: what a page does without a library. The same bridge request as
// authbridge's (POST, credentials, Accept), the token kept in sessionStorage until a minute before it expires.
// by-hand.html loads it as a file; the bench also serves it inlined in the page (`?inline=1`, bench/server.mjs).
const marks = {};
const mark = (k) => { marks[k] = performance.now(); };
const stored = JSON.parse(sessionStorage.getItem('token') ?? 'null');
let token = stored && stored.expiresAt > Date.now() + 60_000 ? stored.token : null;
if (!token) {
  const r = await fetch('/token', { method: 'POST', credentials: 'include', headers: { Accept: 'application/json' } });
  const json = await r.json();
  token = json.access_token;
  sessionStorage.setItem('token', JSON.stringify({ token, expiresAt: Date.now() + json.expires_in * 1000 }));
}
mark('started');
const res = await fetch('/api', { headers: { Authorization: `Bearer ${token}` } });
const body = await res.text();
mark('done');
window.finish({ t0: window.t0, marks, signedIn: true, status: res.status, body, log: [] });
