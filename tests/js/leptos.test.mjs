// The Rust API in a Leptos app: examples/leptos (Leptos 0.8, client-side rendering), built with cargo and the
// wasm-bindgen CLI (trunk is not needed), served by the reference bridge, in headless Chromium. Before sign-in the
// app finds no session; after it, the app shows the token's claims and the API's answer to its authenticated
// fetch; signing out brings the sign-in form back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchChromium } from '../support/chromium.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const example = `${root}examples/leptos`;
let bridge, browser;

before(async () => {
  // A debug build: this checks behaviour, not size (its own target/ under the example, its own Cargo.lock).
  execFileSync('cargo', ['build', '--quiet', '--locked', '--lib', '--target', 'wasm32-unknown-unknown'], { cwd: example, stdio: 'inherit' });
  execFileSync('wasm-bindgen', ['--target', 'web', '--no-typescript', '--out-dir', `${example}/pkg`,
    `${example}/target/wasm32-unknown-unknown/debug/authbridge_leptos.wasm`], { cwd: root, stdio: 'inherit' });
  bridge = await startReferenceBridge({ tokenLifetime: 3600, extra: ['--www', example, '--pkg', `${example}/pkg`] });
  browser = await launchChromium();
});
after(async () => { await browser?.close(); await bridge?.close(); });

test('a Leptos app signs in through the Rust API, calls the API, shows the claims and signs out', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const text = (selector) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector);
  await page.goto(`${bridge.url}/`);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'SignedOut', null, { timeout: 15_000 });
  assert.equal(await text('#error'), '');
  assert.equal(await text('#claims'), null, 'no claims before sign-in');

  await Promise.all([page.waitForNavigation(), page.click('#signin button')]);
  await page.waitForFunction(() => (document.getElementById('me')?.textContent ?? '') !== '' || document.getElementById('error')?.textContent,
    null, { timeout: 15_000 });
  assert.equal(await text('#error'), '');
  assert.equal(await text('#state'), 'SignedIn');
  const me = JSON.parse(await text('#me'));
  assert.equal(me.provider, 'pointservices', 'the API accepted the token the Rust client attached');
  const claims = JSON.parse(await text('#claims'));
  assert.equal(typeof claims.exp, 'number', 'the claims of the access token are shown');
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
  assert.doesNotMatch(stored, /refresh|lovelace/i, 'only the access token reached storage');

  await page.click('#signout');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'SignedOut', null, { timeout: 15_000 });
  assert.equal(await text('#claims'), null, 'the claims are gone after sign-out');
  assert.notEqual(await text('#signin button'), null, 'the sign-in form is back');
  assert.equal(await text('#error'), '');
  assert.deepEqual(errors, []);
});
