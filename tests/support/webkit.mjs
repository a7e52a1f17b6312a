// WebKitGTK (the engine under Safari and every iOS browser) for the JS suites, driven through WebDriver with
// selenium-webdriver: Debian's WebKitWebDriver runs MiniBrowser on a virtual X display (Xvfb), as nothing here can
// download Playwright's own WebKit build. `launchWebKit()` gives the part of Playwright's Browser / BrowserContext /
// Page API that the suites use, so that one scenario runs in either engine (tests/support/browser.mjs picks).
//
// How the pieces map:
// - a browser context is one WebDriver session: an automation session of MiniBrowser keeps its website data
//   (cookies, Web Storage, IndexedDB) in memory, apart from every other session, as Playwright's contexts do;
// - a page is a tab of that session's window (`newPage({ window: true })`: a window of its own). MiniBrowser opens
//   each new tab behind the first, which stays in front; WebKit counts a tab that is not in front as hidden
//   (`visibilityState` 'hidden') and throttles its timers; a window is visible;
// - `page.evaluate(fn, arg)` starts `fn` in the page and polls for its result, so that a long evaluation in one tab
//   never holds up the commands for another (WebDriver serves one command per session at a time). Values travel as
//   JSON, as in Playwright;
// - `pageerror` and `console` (the page's own console calls, not the engine's log lines) come from listeners put
//   into the page after each navigation (WebDriver has no event stream; a page can put `ERROR_COLLECTOR` in itself
//   to be watched from its first script on);
// - `page.addInitScript` runs its script once the page has loaded, not before the page's own scripts;
// - the clock (`context.clock`) shifts `Date` in each page of the context (a skewed or jumped clock, not a fake
//   timer queue), and `context.setOffline` makes `fetch` fail and `navigator.onLine` false in each page, firing
//   `offline`/`online`: WebDriver can do neither at the network level.
// The display is $DISPLAY if set (TEST_WEBKIT_DISPLAY=xvfb: a virtual one all the same), else an Xvfb of our own.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { WebDriver } from 'selenium-webdriver';
import { Executor, HttpClient } from 'selenium-webdriver/http/index.js';

export const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? 'WebKitWebDriver';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SESSION_START_MS = 60_000;
const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.on('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

// Collects uncaught errors, unhandled rejections and console calls (error, warn, log, info, debug) into
// window.__wdEvents (idempotent).
export const ERROR_COLLECTOR = `(() => {
  if (window.__wdEvents) return;
  const events = window.__wdEvents = [];
  const text = (v) => { try { return v instanceof Error ? String(v) : typeof v === 'string' ? v : JSON.stringify(v) ?? String(v); } catch { return String(v); } };
  addEventListener('error', (e) => events.push({ kind: 'pageerror', text: e.error !== undefined && e.error !== null ? text(e.error) : String(e.message) }));
  addEventListener('unhandledrejection', (e) => events.push({ kind: 'pageerror', text: text(e.reason) }));
  for (const [method, type] of [['error', 'error'], ['warn', 'warning'], ['log', 'log'], ['info', 'info'], ['debug', 'debug']]) {
    const original = console[method];
    console[method] = function (...args) { events.push({ kind: 'console', type, text: args.map(text).join(' ') }); return original.apply(this, args); };
  }
})();`;

// The page side of the clock and of the offline switch, each put in a page only once the test used it.
const CLOCK_SHIM = `(() => {
  if (window.__wdClock) return;
  window.__wdClock = { offset: 0 };
  const RealDate = Date;
  const shifted = () => RealDate.now() + window.__wdClock.offset;
  class ShiftedDate extends RealDate {
    constructor(...args) { if (args.length === 0) super(shifted()); else super(...args); }
    static now() { return shifted(); }
  }
  window.Date = ShiftedDate;
})();`;
const OFFLINE_SHIM = `(() => {
  if (window.__wdNetwork) return;
  window.__wdNetwork = { offline: false };
  const realFetch = window.fetch;
  window.fetch = function (...args) {
    if (window.__wdNetwork.offline) return Promise.reject(new TypeError('Load failed (offline: set by the test)'));
    return realFetch.apply(this, args);
  };
  Object.defineProperty(Navigator.prototype, 'onLine', { configurable: true, get: () => !window.__wdNetwork.offline });
})();`;

let display;
let xvfb;
const drivers = new Set();

async function startDisplay() {
  if (display) return display;
  if (process.env.DISPLAY && process.env.TEST_WEBKIT_DISPLAY !== 'xvfb') return (display = process.env.DISPLAY);
  // -noreset: by default an X server resets when its last client leaves, here whenever a test closes its last
  // context, and a client connecting during the reset cannot open the display (xdpyinfo in four parallel loops:
  // 16 of 600 refused without it, 0 of 600 with it). CI once saw a MiniBrowser fail so, and its session hang.
  xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp', '-noreset'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  const number = await new Promise((resolve, reject) => {
    let out = '';
    xvfb.once('error', (e) => reject(new Error(`Xvfb did not start (apt-get install xvfb): ${e.message}`)));
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
    xvfb.stdio[3].on('data', (d) => { out += d; if (out.includes('\n')) resolve(out.trim()); });
  });
  xvfb.unref();
  // Should it still die, the next session starts another rather than a browser that cannot open the display.
  const started = xvfb;
  started.once('exit', (code, signal) => {
    if (xvfb !== started) return;
    console.error(`# Xvfb on :${number} exited (${signal ?? code}); the next session starts another`);
    xvfb = undefined;
    display = undefined;
  });
  return (display = `:${number}`);
}

function stopAll() {
  for (const d of drivers) d.kill('SIGTERM');
  drivers.clear();
  xvfb?.kill('SIGTERM');
  xvfb = undefined;
  display = undefined;
}
process.once('exit', stopAll);

// One WebKitWebDriver (it serves one session at a time) with one MiniBrowser session.
async function startSession() {
  const port = await freePort();
  const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`], { env: { ...process.env, DISPLAY: await startDisplay() }, stdio: ['ignore', 'ignore', 'inherit'] });
  drivers.add(driver);
  driver.once('exit', () => drivers.delete(driver));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { await fetch(`${url}/status`); break; } catch (e) {
      if (driver.exitCode !== null || i > 200) throw new Error(`${WEBKIT_DRIVER} did not start (apt-get install webkit2gtk-driver): ${e.message}`, { cause: e });
      await sleep(25);
    }
  }
  // A MiniBrowser that cannot start leaves the session request unanswered: bounded, so the test fails instead.
  let timer;
  const session = await Promise.race([
    WebDriver.createSession(new Executor(new HttpClient(url)), {
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    }),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${WEBKIT_DRIVER} started no MiniBrowser session in ${SESSION_START_MS / 1000} s (display ${display})`)), SESSION_START_MS); }),
  ]).catch((e) => { driver.kill('SIGTERM'); throw e; }).finally(() => clearTimeout(timer));
  await session.manage().setTimeouts({ script: 60_000, pageLoad: 60_000 });
  return { session, driver };
}

class Context {
  constructor(browser, { session, driver }) {
    this.browser = browser;
    this.session = session;
    this.driver = driver;
    this.pages = [];
    this.queue = Promise.resolve();
    this.current = null;
    this.firstHandle = null;
    this.offset = 0;
    this.offline = false;
    const context = this;
    this.clock = {
      async install({ time } = {}) { context.clockUsed = true; context.offset = time === undefined ? 0 : time - Date.now(); await context.shimAll(); },
      async resume() {},
      async fastForward(by) { context.clockUsed = true; context.offset += duration(by); await context.shimAll(); },
    };
  }

  // WebDriver commands of one session run one at a time, each in the window it is meant for.
  run(page, fn) {
    const next = this.queue.then(async () => {
      if (page && this.current !== page.handle) {
        await this.session.switchTo().window(page.handle);
        this.current = page.handle;
      }
      return fn(this.session);
    });
    this.queue = next.catch(() => {});
    return next;
  }

  async newPage({ window = false } = {}) {
    const page = await this.run(null, async (s) => {
      let handle;
      if (!this.firstHandle) {
        handle = this.firstHandle = await s.getWindowHandle();
      } else {
        await s.switchTo().newWindow(window ? 'window' : 'tab');
        handle = await s.getWindowHandle();
      }
      this.current = handle;
      return new Page(this, handle);
    });
    this.pages.push(page);
    return page;
  }

  async shimAll() {
    for (const p of this.pages) if (!p.closed && p.loaded) await p.shim();
  }

  async setOffline(offline) {
    this.offline = offline;
    this.offlineUsed = true;
    for (const p of this.pages) {
      if (p.closed || !p.loaded) continue;
      await p.shim();
      await p.run((s) => s.executeScript(`dispatchEvent(new Event(${JSON.stringify(offline ? 'offline' : 'online')}));`));
    }
  }

  async clearCookies({ name } = {}) {
    const page = this.pages.find((p) => !p.closed);
    await this.run(page, (s) => (name ? s.manage().deleteCookie(name) : s.manage().deleteAllCookies()));
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pages) p.closed = true;
    await this.queue;
    await this.session.quit().catch(() => {});
    this.driver.kill('SIGTERM');
    this.browser.contexts.delete(this);
  }
}

function duration(by) {
  if (typeof by === 'number') return by;
  // 'mm:ss' or 'hh:mm:ss', as Playwright's clock takes.
  return by.split(':').reduce((total, part) => total * 60 + Number(part), 0) * 1000;
}

class Page {
  constructor(context, handle) {
    this.context = context;
    this.handle = handle;
    this.listeners = { pageerror: [], console: [] };
    this.closed = false;
    this.loaded = false;
    this.lastUrl = 'about:blank';
    this.evaluations = 0;
    this.clock = context.clock;
  }

  run(fn) {
    if (this.closed) return Promise.reject(new Error('page.run: the page is closed'));
    return this.context.run(this, fn);
  }

  on(event, listener) {
    if (!this.listeners[event]) throw new Error(`webkit adapter: no '${event}' events (only pageerror and console)`);
    this.listeners[event].push(listener);
  }

  url() { return this.lastUrl; }

  async goto(url) {
    await this.run((s) => s.get(url));
    await this.afterNavigation();
  }

  // Resolves once the page holds a new document (one without this harness's collector), loaded.
  async waitForNavigation({ timeout = 30_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const fresh = await this.run((s) => s.executeScript('return !window.__wdEvents && document.readyState === "complete";')).catch(() => false);
      if (fresh) break;
      if (Date.now() > deadline) throw new Error(`page.waitForNavigation: no new document in ${timeout} ms`);
      await sleep(50);
    }
    await this.afterNavigation();
  }

  async goBack() {
    await this.run((s) => s.navigate().back());
    await this.afterNavigation();
  }

  async reload() {
    await this.run((s) => s.navigate().refresh());
    await this.afterNavigation();
  }

  async afterNavigation() {
    this.loaded = true;
    this.lastUrl = await this.run((s) => s.getCurrentUrl());
    await this.shim();
    for (const script of this.initScripts ?? []) await this.run((s) => s.executeScript(script));
  }

  // Playwright runs these before the page's own scripts; WebDriver cannot: here they run once the page has loaded,
  // before anything the test does in it (fine for scripts that watch what the test's code does, not the load).
  async addInitScript(script, arg) {
    (this.initScripts ??= []).push(typeof script === 'function' ? `(${script})(${JSON.stringify(arg)});` : script);
  }

  async shim() {
    const { offset, offline, clockUsed, offlineUsed } = this.context;
    await this.run((s) => s.executeScript(`${ERROR_COLLECTOR}
      if (arguments[2]) { ${CLOCK_SHIM} window.__wdClock.offset = arguments[0]; }
      if (arguments[3]) { ${OFFLINE_SHIM} window.__wdNetwork.offline = arguments[1]; }`, offset, offline, !!clockUsed, !!offlineUsed));
  }

  dispatch(events) {
    for (const e of events ?? []) {
      if (e.kind === 'pageerror') {
        const error = new Error(e.text.replace(/^\w*Error: /, ''));
        error.toString = () => e.text;
        for (const l of this.listeners.pageerror) l(error);
      } else {
        const message = { type: () => e.type, text: () => e.text, location: () => ({ url: '' }) };
        for (const l of this.listeners.console) l(message);
      }
    }
  }

  async evaluate(fn, arg) {
    const id = `e${++this.evaluations}`;
    const source = typeof fn === 'function' ? `(${fn})` : `(() => (${fn}))`;
    // The function is written into the script (WebDriver's scripts are exempt from the page's CSP; eval is not): it
    // sees the page's globals, and no name of this wrapper but the __wd ones.
    const started = await this.run((s) => s.executeScript(`
      ${ERROR_COLLECTOR}
      const __wdResults = window.__wdResults ??= {}, __wdId = arguments[0];
      const __wdArg = arguments[1] ? JSON.parse(arguments[1]) : undefined, __wdFn = ${source};
      __wdResults[__wdId] = { done: false };
      Promise.resolve().then(() => __wdFn(__wdArg)).then(
        (value) => { __wdResults[__wdId] = { done: true, json: value === undefined ? undefined : JSON.stringify(value) }; },
        (error) => { __wdResults[__wdId] = { done: true, error: String(error?.stack ? \`\${error}\\n\${error.stack}\` : error) }; });
      return window.__wdEvents.splice(0);`, id, arg === undefined ? '' : JSON.stringify(arg)));
    this.dispatch(started);
    for (let wait = 5; ; wait = Math.min(wait * 2, 50)) {
      const r = await this.run((s) => s.executeScript(`
        const results = window.__wdResults, r = results?.[arguments[0]];
        const events = window.__wdEvents ? window.__wdEvents.splice(0) : [];
        if (!r) return { gone: true, events };
        if (r.done) delete results[arguments[0]];
        return { ...r, events };`, id));
      this.dispatch(r.events);
      if (r.gone) throw new Error('page.evaluate: the page navigated or was closed before the result came');
      if (r.done) {
        if (r.error !== undefined) throw new Error(`page.evaluate: ${r.error}`);
        return r.json === undefined || r.json === null ? undefined : JSON.parse(r.json);
      }
      await sleep(wait);
    }
  }

  async waitForFunction(fn, arg, { timeout = 30_000, polling = 50 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await this.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`page.waitForFunction: timed out after ${timeout} ms: ${fn}`);
      await sleep(polling);
    }
  }

  waitForSelector(selector, options) {
    return this.waitForFunction((sel) => document.querySelector(sel) !== null, selector, options);
  }

  // Waits, then hands on the page's errors and console messages of the meantime.
  async waitForTimeout(ms) {
    await sleep(ms);
    if (!this.loaded || this.closed) return;
    this.dispatch(await this.run((s) => s.executeScript('return window.__wdEvents ? window.__wdEvents.splice(0) : [];')));
  }

  // As Playwright does, waits until the element can take the click: there, shown, enabled.
  async click(selector, { timeout = 10_000 } = {}) {
    await this.waitForFunction((sel) => {
      const el = document.querySelector(sel);
      return el !== null && el.getClientRects().length > 0 && !el.disabled;
    }, selector, { timeout });
    await this.run(async (s) => (await s.findElement({ css: selector })).click());
  }

  selectOption(selector, value) {
    return this.evaluate(([sel, value]) => {
      const el = document.querySelector(sel);
      el.value = value;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }, [selector, value]);
  }

  getAttribute(selector, name) {
    return this.evaluate(([sel, name]) => document.querySelector(sel)?.getAttribute(name) ?? null, [selector, name]);
  }

  locator(selector) {
    return {
      innerText: () => this.evaluate((sel) => document.querySelector(sel).innerText, selector),
      textContent: () => this.evaluate((sel) => document.querySelector(sel)?.textContent ?? null, selector),
    };
  }

  async screenshot({ path } = {}) {
    const png = await this.run((s) => s.takeScreenshot());
    if (path) writeFileSync(path, Buffer.from(png, 'base64'));
    return Buffer.from(png, 'base64');
  }

  async close() {
    if (this.closed) return;
    if (this.ownsContext) return this.context.close();
    await this.run(async (s) => {
      // Closing the session's last window would end the session: open a blank one first.
      const handles = await s.getAllWindowHandles();
      if (handles.length === 1) {
        await s.switchTo().newWindow('tab');
        const blank = await s.getWindowHandle();
        await s.switchTo().window(this.handle);
        await s.close();
        await s.switchTo().window(blank);
        this.context.current = blank;
        this.context.firstHandle = null;
      } else {
        await s.close();
        // WebDriver then has no current window, and refuses even to open a new one: switch to one that is open.
        const other = handles.find((h) => h !== this.handle);
        await s.switchTo().window(other);
        this.context.current = other;
      }
    });
    this.closed = true;
  }
}

class Browser {
  constructor() { this.contexts = new Set(); this.name = 'webkit'; }

  async newContext() {
    const context = new Context(this, await startSession());
    this.contexts.add(context);
    return context;
  }

  async newPage(options) {
    const context = await this.newContext();
    const page = await context.newPage(options);
    page.ownsContext = true;
    return page;
  }

  async close() {
    for (const c of [...this.contexts]) await c.close();
    if (![...drivers].length) stopAll();
  }

  version() { return 'WebKitGTK'; }
}

export async function launchWebKit() {
  await startDisplay();
  return new Browser();
}
