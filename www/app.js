// The demo page: an inspector for tokens and bridge responses, and (when served by the reference bridge) a
// live session that shows refreshes and authenticated API calls.
import init, { decodeJwt, decodeJwtHeader, parseTokenResponse, AuthClient, version } from './pkg/browser.js';

await init();
const $ = (id) => document.getElementById(id);
$('version').textContent = `v${version()}`;
$('version2').textContent = `v${version()}`;

const b64 = (o) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const now = Math.floor(Date.now() / 1000);
const sampleJwt = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'user-42', name: 'José Müller', email: 'jose@example.com', iat: now, exp: now + 3600, scope: 'read write' })}.c2lnbmF0dXJl`;
const samples = {
  point: { accessToken: { token: `Bearer ${sampleJwt}`, expiresIn: 86400 } },
  oauth2: { access_token: sampleJwt, refresh_token: 'AMf-vBxITbnfBBMJpPXMvop1qa1cMaUuqAKX_y1hYsmcgVtzhx7Al_9mWD', expires_in: 3600 },
  wazo: { data: { token: '88204f50-0fe8-4163-a90f-9ff867468997', refresh_token: '353fefa1-d013-4633-a7d3-c6cb574ddc26', expires_at: new Date(Date.now() + 3600e3).toISOString().replace('Z', '000'), acl: ['confd.users.me.read'] } },
  static: { token: 'afp_0f3a9c2b7d4e4e1a8b6c5d9e0f1a2b3c', scopes: ['workspace:read', 'item:write'] },
  jwt: sampleJwt,
  bad: `${sampleJwt.split('.')[0]}.not*base64.sig`,
};

const pretty = (v) => JSON.stringify(v, null, 2);
const when = (ms) => (ms == null ? 'never' : `${new Date(ms).toLocaleString()} (${relative(ms)})`);
function relative(ms) {
  const s = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(s);
  const text = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} days`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}
const block = (title, html) => `<div><h3>${title}</h3>${html}</div>`;
const json = (v) => `<pre class="json">${escapeHtml(pretty(v))}</pre>`;
const escapeHtml = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const errorHtml = (e) => `<p><span class="badge bad">${escapeHtml(e.code ?? 'error')}</span> <span class="error">${escapeHtml(e.message)}</span></p>`;

function inspect() {
  const text = $('input').value.trim();
  const out = $('result');
  if (!text) { out.innerHTML = ''; return; }
  const parts = [];
  let token = text;
  if (text.startsWith('{') || text.startsWith('"')) {
    try {
      const format = $('format').value;
      const rec = parseTokenResponse(text, format);
      token = rec.token;
      const expired = rec.expiresAt != null && rec.expiresAt <= Date.now();
      parts.push(block('Bridge response', `<dl>
        <dt>Format</dt><dd><span class="badge ok">${rec.format}</span></dd>
        <dt>Header</dt><dd>${escapeHtml(rec.header)}: ${rec.header === 'Authorization' ? 'Bearer ' : ''}…</dd>
        <dt>Expires</dt><dd>${escapeHtml(when(rec.expiresAt))} ${expired ? '<span class="badge bad">expired</span>' : ''}</dd>
        <dt>Scopes</dt><dd>${escapeHtml(rec.scopes.join(' ') || '—')}</dd>
        <dt>Dropped</dt><dd>${/refresh_token/.test(text) ? '<span class="badge warn">refresh_token (never kept)</span>' : '—'}</dd></dl>`));
    } catch (e) {
      out.innerHTML = block('Bridge response', errorHtml(e));
      return;
    }
  }
  if (token.split('.').length === 3 || !parts.length) {
    try {
      const header = decodeJwtHeader(token);
      const claims = decodeJwt(token);
      const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
      parts.push(block('JWT header', json(header)));
      parts.push(block('Claims', `<dl><dt>Expires</dt><dd>${escapeHtml(when(exp))}</dd></dl>${json(claims)}`));
    } catch (e) {
      parts.push(block('JWT', parts.length ? '<p class="hint">Opaque token (not a JWT).</p>' : errorHtml(e)));
    }
  }
  out.innerHTML = parts.join('');
}

for (const b of document.querySelectorAll('[data-sample]')) {
  b.addEventListener('click', () => {
    const v = samples[b.dataset.sample];
    $('input').value = typeof v === 'string' ? v : pretty(v);
    $('format').value = 'auto';
    inspect();
  });
}
$('input').addEventListener('input', inspect);
$('format').addEventListener('change', inspect);

// Live session: only when the page is served by the reference bridging backend.
const config = await fetch('/demo/config').then((r) => (r.ok ? r.json() : null)).catch(() => null);
if (config) startLive(config);

function startLive(config) {
  $('live').hidden = false;
  const log = (text, kind = '') => {
    const li = document.createElement('li');
    li.innerHTML = `<time>${new Date().toLocaleTimeString()}</time><span class="${kind}">${escapeHtml(text)}</span>`;
    $('log').prepend(li);
  };
  let auth = null;
  let timer = null;
  const csrf = () => document.cookie.split('; ').find((c) => c.startsWith('authbridge_csrf='))?.split('=')[1] ?? '';

  function client(provider) {
    auth?.free();
    const p = config.providers[provider];
    auth = new AuthClient({
      tokenUrl: `/auth/${provider}/token`,
      apiOrigins: [location.origin],
      storageKey: `authbridge-demo-${provider}`,
      bridgeHeaders: { 'X-CSRF-Token': csrf() },
      autoRefresh: true,
    });
    auth.on('token', (e) => { log(`token from ${e.source}, ${e.header}, expires ${e.expiresAt ? relative(e.expiresAt) : 'never'}`, 'ok'); render(); });
    auth.on('signedOut', (e) => { $('state').dataset.in = '0'; log(`signed out (${e.reason})`, 'warn'); render(); });
    auth.on('error', (e) => log(`${e.code}: ${e.message}`, 'error'));
    return p;
  }
  function render() {
    const exp = auth?.expiresAt();
    const signedIn = auth && $('state').dataset.in === '1' && (exp === null || exp > Date.now());
    $('state').innerHTML = signedIn ? '<span class="badge ok">signed in</span>' : '<span class="badge bad">signed out</span>';
    $('expires').textContent = exp == null ? (auth ? 'never (static token)' : '—') : when(exp);
    $('liveClaims').textContent = pretty(auth?.claims() ?? null);
    $('header').textContent = config.providers[$('provider').value].header;
  }
  clearInterval(timer);
  timer = setInterval(() => {
    const next = auth?.nextRefreshAt();
    $('countdown').textContent = next ? relative(Math.max(next, Date.now())) : auth?.expiresAt() === null ? 'never (no expiry)' : '—';
    if (auth) $('expires').textContent = auth.expiresAt() == null ? 'never (static token)' : when(auth.expiresAt());
  }, 500);

  $('signinForm').onsubmit = async (event) => {
    event.preventDefault();
    const provider = $('provider').value;
    const res = await fetch('/session', {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf() },
      body: JSON.stringify({ username: $('username').value, password: $('password').value, provider }),
    });
    if (!res.ok) { log(`sign-in failed: HTTP ${res.status}`, 'error'); return; }
    client(provider);
    $('state').dataset.in = '1';
    const ok = await auth.start().catch((e) => { log(`${e.code}: ${e.message}`, 'error'); return false; });
    log(ok ? `signed in to ${provider}` : 'bridge refused', ok ? 'ok' : 'error');
    render();
  };
  $('call').onclick = async () => {
    if (!auth) return log('sign in first', 'warn');
    const provider = $('provider').value;
    try {
      const res = await auth.fetch(`/api/${provider}/me`);
      const body = await res.json().catch(() => null);
      log(`GET /api/${provider}/me → ${res.status} ${body ? JSON.stringify(body) : ''}`, res.ok ? 'ok' : 'error');
    } catch (e) { log(`${e.code ?? 'error'}: ${e.message}`, 'error'); }
  };
  $('refresh').onclick = () => auth?.refresh().catch((e) => log(`${e.code}: ${e.message}`, 'error'));
  $('signout').onclick = async () => { $('state').dataset.in = '0'; await auth?.signOut(); await fetch('/session', { method: 'DELETE', headers: { 'x-csrf-token': csrf() } }); render(); };
  $('provider').onchange = () => render();
  render();
}
