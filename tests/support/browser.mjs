// The browser the JS suites run in: headless Chromium through playwright-core (the default), or WebKitGTK through
// WebDriver with TEST_BROWSER=webkit (tests/support/webkit.mjs, `make test-js-webkit`).
import { launchChromium } from './chromium.mjs';
import { launchWebKit } from './webkit.mjs';

export const BROWSER = process.env.TEST_BROWSER ?? 'chromium';
if (!['chromium', 'webkit'].includes(BROWSER)) throw new Error(`TEST_BROWSER must be chromium or webkit, not ${BROWSER}`);
export const WEBKIT = BROWSER === 'webkit';

export function launchBrowser() {
  return WEBKIT ? launchWebKit() : launchChromium();
}
