// Boots the Rust page, and signs in at the bridge (the demo's sign-in: not authbridge's part).
import init from './pkg/authbridge_rust_page.js';
document.getElementById('signin').onsubmit = async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)?.[1] ?? '';
  const r = await fetch('/session', { method: 'POST', headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ username: form.get('username'), password: form.get('password'), provider: 'pointservices' }) });
  if (r.ok) location.reload(); else document.getElementById('error').textContent = `sign-in: ${r.status}`;
};
await init();
