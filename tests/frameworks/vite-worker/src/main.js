// The test's page: it signs in at the bridge itself, and makes its API calls through the worker (src/api.js and
// src/api-worker.js, from the README), which holds the client: the page never sees the token. Each action reports
// its outcome in #result (numbered).
import { api, ready } from './api.js';

const result = document.getElementById('result');
const report = (text) => { result.textContent = text; result.dataset.n = String(Number(result.dataset.n) + 1); };
const act = (fn) => () => fn().then(report, (e) => report(`failed: ${e.code ?? e.name}: ${e.message}`));

document.getElementById('signin').onclick = act(async () => {
  await ready;
  const { csrfToken } = await (await fetch('/csrf')).json();
  const r = await fetch('/session', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
    body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }),
  });
  if (!r.ok) throw new Error(`sign-in answered ${r.status}: ${await r.text()}`);
  return 'signed in';
});
document.getElementById('call').onclick = act(async () => {
  const { status, body } = await api('/api/point/me');
  return `api ${status} ${body.sub}`;
});
window.tokenInPage = () => Object.keys(sessionStorage).length + Object.keys(localStorage).length;
