// The Rust API in a real page: examples/rust-page (a Rust wasm page on authbridge::web::Client), built with
// wasm-pack and served by the reference bridge, in headless Chromium (or WebKitGTK with TEST_BROWSER=webkit). Before
// sign-in the Rust code finds no session; after it, it gets a token from the bridge, shows its expiry and the API's
// answer to its fetch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startReferenceBridge } from '../support/reference-bridge.mjs';
import { launchBrowser } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const example = `${root}examples/rust-page`;
let bridge, browser;

before(async () => {
  // A debug build: this checks behaviour, not size (its own target/ under the example).
  execFileSync('wasm-pack', ['--quiet', 'build', '--dev', '--target', 'web', '--no-pack', '--out-dir', 'pkg', example], { cwd: root, stdio: 'inherit' });
  bridge = await startReferenceBridge({ tokenLifetime: 3600, extra: ['--www', example, '--pkg', `${example}/pkg`] });
  browser = await launchBrowser();
});
after(async () => { await browser?.close(); await bridge?.close(); });

test('a Rust page signs in through the Rust API and calls the API with its authenticated fetch', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const text = (id) => page.evaluate((id) => document.getElementById(id).textContent, id);
  await page.goto(`${bridge.url}/`);
  await page.waitForFunction(() => document.getElementById('status').textContent !== '', null, { timeout: 10_000 });
  assert.equal(await text('status'), 'no session: sign in');
  assert.equal(await text('state'), 'SignedOut');
  assert.equal(await text('error'), '');

  await Promise.all([page.waitForNavigation(), page.click('button')]);
  await page.waitForFunction(() => document.getElementById('me').textContent !== '' || document.getElementById('error').textContent !== '',
    null, { timeout: 10_000 });
  assert.equal(await text('error'), '');
  const me = JSON.parse(await text('me'));
  assert.equal(me.provider, 'pointservices', 'the API accepted the token the Rust client attached');
  assert.match(await text('status'), /^signed in; token expires at Some\(\d{13}\)$/);
  assert.equal(await text('state'), 'SignedIn');
  // Only the access token reached storage: no refresh token, no password.
  const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
  assert.doesNotMatch(stored, /refresh|lovelace/i);
  assert.deepEqual(errors, []);
});

test("a Rust app's module gets none of the JavaScript API's exports", () => {
  // The crate exports AuthClient, decodeJwt… only with its `js-api` feature (the npm package's crate turns it on).
  const glue = readFileSync(`${example}/pkg/authbridge_rust_page.js`, 'utf8');
  for (const name of ['AuthClient', 'decodeJwt', 'decodeJwtHeader', 'parseTokenResponse']) {
    assert.doesNotMatch(glue, new RegExp(`\\b${name}\\b`), `${name} is in the Rust page's glue`);
  }
});
