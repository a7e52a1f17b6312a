// Docs that run: every code block of README.md and pkg-template/README.md is run or type-checked, as its marker
// says (tests/support/docs.mjs): recipe files are built into the framework apps of tests/js/frameworks.test.mjs and
// tests/js/react.test.mjs, JavaScript blocks are type-checked by tsc against the packed package, and the install
// instructions are run as written in an empty app. A block without a known marker fails here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { allBlocks, DOCS, recipeFiles, root } from '../support/docs.mjs';
import { installPackage } from '../bundlers/install.mjs';

const work = join(root, 'target', 'docs-test');
const blocks = allBlocks();
const where = (b) => `${b.where} (${b.lang || 'plain'})`;

// The framework apps the `file` blocks belong to: their fixture folder and the test that builds them.
const APPS = {
  next: { fixture: 'tests/frameworks/next', test: 'tests/js/frameworks.test.mjs' },
  sveltekit: { fixture: 'tests/frameworks/sveltekit', test: 'tests/js/frameworks.test.mjs' },
  vue: { fixture: 'tests/frameworks/vue', test: 'tests/js/frameworks.test.mjs' },
  'vite-worker': { fixture: 'tests/frameworks/vite-worker', test: 'tests/js/frameworks.test.mjs' },
  'react-vite': { fixture: 'tests/frameworks/react-vite', test: 'tests/js/frameworks.test.mjs' },
  react: { fixture: 'tests/bundlers/react-app', test: 'tests/js/react.test.mjs' },
  preload: { fixture: 'tests/js/fixtures', test: 'tests/js/browser.test.mjs' },
};

test('every code block is marked, and each kind is there', () => {
  const kinds = new Set(blocks.map((b) => b.marker.kind));
  assert.deepEqual([...kinds].sort(), ['check', 'file', 'run', 'skip']);
  for (const doc of DOCS) assert.ok(blocks.some((b) => b.doc === doc), `${doc} has code blocks`);
  for (const b of blocks.filter((b) => b.marker.kind === 'run')) assert.equal(b.lang, 'sh', `${where(b)}: run blocks are sh`);
});

test('recipe files belong to an app that a test builds from them, and no fixture file shadows them', () => {
  for (const b of blocks.filter((b) => b.marker.kind === 'file')) {
    for (const { app: name, path } of b.marker.targets) {
      const app = APPS[name];
      assert.ok(app, `${where(b)}: unknown app ${name} (add it to APPS with its test)`);
      assert.ok(!existsSync(join(root, app.fixture, path)), `${where(b)}: ${app.fixture}/${path} exists too`);
      // The first line names the file for the reader.
      assert.match(b.code.split('\n')[0], new RegExp(`^(//|<!--) ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`),
        `${where(b)}: the block starts with a comment naming ${path}`);
    }
  }
  for (const [name, app] of Object.entries(APPS)) {
    recipeFiles(name);
    assert.ok(readFileSync(join(root, app.test), 'utf8').includes(`'${name}'`), `${app.test} builds the app ${name}`);
  }
});

test('links between the docs lead somewhere: files exist, #anchors are headings', () => {
  // GitHub's heading ids: lower case, punctuation but - and _ dropped, spaces to -.
  const slug = (h) => h.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
  const headings = (doc) => new Set(readFileSync(join(root, doc), 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ''))));
  const broken = [];
  for (const doc of DOCS) {
    const dir = doc.includes('/') ? doc.slice(0, doc.lastIndexOf('/') + 1) : '';
    const text = readFileSync(join(root, doc), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#');
      const path = file ? join(dir, file) : doc;
      if (!existsSync(join(root, path))) { broken.push(`${doc}: ${target} (no ${path})`); continue; }
      if (anchor && !headings(path).has(anchor)) broken.push(`${doc}: ${target} (no heading #${anchor} in ${path})`);
    }
  }
  assert.deepEqual(broken, []);
});

describe('JavaScript blocks type-check against the packed package (tsc, checkJs)', () => {
  const checked = blocks.filter((b) => b.marker.kind === 'check');
  let dir;
  before(() => {
    dir = join(work, 'check');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    installPackage(dir);
  });

  test(`${checked.length} blocks`, { timeout: 120_000 }, async () => {
    assert.ok(checked.length >= 8, 'the READMEs have their examples');
    const names = new Map();
    const globals = [];
    checked.forEach((b, i) => {
      const ext = b.lang === 'jsx' || b.lang === 'tsx' ? 'jsx' : 'js';
      const name = `block-${i + 1}.${ext}`;
      names.set(name, b);
      // A module of its own (its names do not meet the other blocks'), with its prelude's declarations.
      writeFileSync(join(dir, name), `${b.code}\nexport {};\n`);
      if (b.marker.prelude) globals.push(`// ${b.where}\n${b.marker.prelude}`);
    });
    writeFileSync(join(dir, 'globals.d.ts'), `${globals.join('\n')}\n`);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        allowJs: true, checkJs: true, noEmit: true, strict: false, skipLibCheck: true,
        target: 'es2022', lib: ['es2022', 'dom', 'dom.iterable'], types: [],
        module: 'esnext', moduleResolution: 'bundler', jsx: 'react-jsx',
      },
      include: ['*.js', '*.jsx', '*.d.ts'],
    }, null, 2));
    try {
      await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsc'), ['-p', dir, '--pretty', 'false'], { cwd: dir, timeout: 110_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
    } catch (e) {
      const out = `${e.stdout ?? ''}${e.stderr ?? ''}` || String(e);
      // Name the README line of each error.
      assert.fail(out.replace(/^(?:.*[/\\])?(block-\d+\.jsx?)\((\d+),(\d+)\)/gm, (m, file, line) => {
        const b = names.get(file);
        return b ? `${b.doc}:${b.line + Number(line)}` : m;
      }));
    }
  });
});

describe('the install instructions, run as written', () => {
  const runs = blocks.filter((b) => b.marker.kind === 'run');
  let scratch;
  const tarballs = () => readdirSync(root).filter((f) => /^authbridge-.*\.tgz$/.test(f));
  before(() => {
    assert.deepEqual(tarballs(), [], 'no authbridge-*.tgz in the repository before the test');
    scratch = join(work, 'install');
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(join(scratch, 'app'), { recursive: true });
    // The app next to a clone of the repository, as the README says.
    symlinkSync(root, join(scratch, 'authbridge'));
    writeFileSync(join(scratch, 'app', 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2));
  });
  after(() => { for (const f of tarballs()) rmSync(join(root, f)); });

  for (const b of runs) {
    test(where(b), { timeout: 600_000 }, () => {
      execFileSync('bash', ['-euo', 'pipefail', '-c', b.code], {
        cwd: join(scratch, 'app'), stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
      });
      const app = join(scratch, 'app');
      const { dependencies } = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
      assert.match(dependencies?.authbridge ?? '', /^file:\.\.\/authbridge\/authbridge-[\d.]+\.tgz$/);
      // The installed package works: Node's entry initialises itself.
      const out = execFileSync(process.execPath, ['--input-type=module', '-e',
        "import { AuthClient, decodeJwt, version } from 'authbridge';" +
        "console.log(typeof AuthClient, typeof decodeJwt, version())"], { cwd: app, encoding: 'utf8' }).trim();
      assert.match(out, /^function function \d+\.\d+\.\d+$/);
    });
  }
});
