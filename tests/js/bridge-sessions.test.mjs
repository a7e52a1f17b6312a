// The reference bridge's sessions in a real browser. Issue 21.5: a link on another site into an app served by
// the reference bridge must leave the user's session alone. The answer to that cross-site navigation used to set a fresh CSRF cookie over the
// one the browser withheld (SameSite=Strict), and the session, bound to the old value, answered 401 from then on.
// The other site here is http://localhost:PORT, the app http://127.0.0.1:PORT: two sites to Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchChromium } from '../support/chromium.mjs';

let bridge, browser, evil;
before(async () => {
  bridge = await startReferenceBridge({ tokenLifetime: 30 });
  browser = await launchChromium();
  // Another site with an ordinary link and a form posting to the bridge.
  evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><a id="link" href="${bridge.url}/">open the app</a>
      <form id="form" method="POST" action="${bridge.url}/session"><input name="username" value="ada"></form>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
});
after(async () => {
  await browser?.close();
  await bridge?.close();
  await new Promise((r) => (evil ? evil.close(r) : r()));
});

const evilUrl = () => `http://localhost:${evil.address().port}/`;

async function csrfCookie(context) {
  return (await context.cookies(bridge.url)).find((c) => c.name === 'authbridge_csrf')?.value;
}

// A token call from the app's page with the CSRF value the page has now.
const tokenCall = (page) => page.evaluate(async () => {
  const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)?.[1] ?? '';
  return (await fetch('/auth/point/token', { method: 'POST', headers: { 'x-csrf-token': csrf } })).status;
});

test('a link or a form on another site does not end the session', async () => {
  const context = await browser.newContext();
  const app = await context.newPage();
  await app.goto(`${bridge.url}/`);
  const signedIn = await app.evaluate(async () => {
    const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
    const r = await fetch('/session', { method: 'POST', headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }) });
    return r.status;
  });
  assert.equal(signedIn, 200);
  assert.equal(await tokenCall(app), 200);
  const before = await csrfCookie(context);
  assert.ok(before);

  // The user follows a link from another site into the app: a top-level cross-site navigation.
  const other = await context.newPage();
  await other.goto(evilUrl());
  await Promise.all([other.waitForURL(`${bridge.url}/`), other.click('#link')]);
  assert.equal(await csrfCookie(context), before, 'the link replaced the CSRF cookie');
  assert.equal(await tokenCall(other), 200, 'the tab the link opened is signed in');
  assert.equal(await tokenCall(app), 200, 'the app tab is still signed in');

  // A cross-site form post to the bridge: refused, and it does not touch the cookie either.
  await other.goto(evilUrl());
  await Promise.all([other.waitForLoadState('load'), other.evaluate(() => document.getElementById('form').submit())]);
  await other.waitForLoadState('load');
  assert.equal(await csrfCookie(context), before, 'the form replaced the CSRF cookie');
  await app.reload();
  assert.equal(await tokenCall(app), 200, 'signed in after a reload');
  await context.close();
});

// In a page of the app: sign in with a password, start a client. Returns nothing; the client is `window.auth`.
async function signInAndStart() {
  while (!document.getElementById('version')?.textContent) await new Promise((r) => setTimeout(r, 10));
  const { AuthClient } = await import('/pkg/browser.js');
  const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
  const r = await fetch('/session', { method: 'POST', headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ada', password: 'lovelace', provider: 'point' }) });
  if (!r.ok) throw new Error(`sign-in ${r.status}`);
  window.events = [];
  window.auth = new AuthClient({ tokenUrl: '/auth/point/token', apiOrigins: [location.origin], storage: 'memory',
    bridgeHeaders: { 'X-CSRF-Token': csrf } });
  auth.on('signedOut', (e) => events.push(e.reason));
  await auth.start();
}

test('DELETE /sessions on one device signs the user out everywhere, through the client\'s signed-out path', async () => {
  // Two devices: two browser contexts, each with its own cookies.
  const devices = [await browser.newContext(), await browser.newContext()];
  const pages = [];
  for (const d of devices) {
    const page = await d.newPage();
    await page.goto(`${bridge.url}/`);
    await page.evaluate(signInAndStart);
    assert.equal(await page.evaluate(async () => (await auth.fetch('/api/point/me')).status), 200);
    pages.push(page);
  }
  const ended = await pages[0].evaluate(async () => {
    const csrf = document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1];
    return (await fetch('/sessions', { method: 'DELETE', headers: { 'x-csrf-token': csrf } })).status;
  });
  assert.equal(ended, 204);
  // The other device learns it at its next bridge call, as from any refusal: signed out, no token held.
  const other = await pages[1].evaluate(async () => ({
    refresh: await auth.refresh().then(() => 'ok', (e) => e.code),
    events,
    next: await auth.accessToken().catch((e) => e.code),
  }));
  assert.deepEqual(other, { refresh: 'refresh_rejected', events: ['rejected'], next: 'signed_out' });
  // Its session is gone at the bridge.
  const stale = await pages[1].evaluate(async () => {
    const r = await fetch('/auth/point/token', { method: 'POST',
      headers: { 'x-csrf-token': document.cookie.match(/authbridge_csrf=([0-9a-f]+)/)[1] } });
    return r.status;
  });
  assert.equal(stale, 401);
  for (const d of devices) await d.close();
});
