// The package is ready to publish: `npm publish --dry-run` of pkg/ is clean (no warning but the login one a dry run
// without credentials prints), and its manifest says what a registry package must: name, version (Cargo.toml's),
// `files` (exactly what the tarball holds), `exports` with `types` first for every code subpath, `sideEffects`,
// `engines`, license. pkg/ is built by `make pkg`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { root } from '../support/docs.mjs';

const pkgDir = join(root, 'pkg');
const skip = existsSync(join(pkgDir, 'package.json')) ? false : 'pkg/ is missing: build it first with `make pkg`';
const manifest = () => JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
// A dry run without npm credentials says so; that is the machine, not the package.
const LOGIN = /^npm warn publish This command requires you to be logged in to .* \(dry-run\)$/;

test('npm publish --dry-run is clean', { skip, timeout: 60_000 }, async () => {
  const { stdout, stderr } = await promisify(execFile)('npm', ['publish', '--dry-run', '--json'], {
    cwd: pkgDir, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 << 20,
  });
  const warnings = stderr.split('\n').filter((l) => /^npm (warn|err|error)\b/i.test(l) && !LOGIN.test(l));
  assert.deepEqual(warnings, [], stderr);
  const report = JSON.parse(stdout);
  const { name, version, files } = report.authbridge ?? report;
  assert.equal(name, 'authbridge');
  assert.equal(version, manifest().version);
  const packed = files.map((f) => f.path).sort();
  // Exactly the files the manifest lists (folders: their contents), and nothing else.
  const listed = manifest().files;
  for (const path of packed) {
    assert.ok(path === 'package.json' || listed.some((f) => path === f || (f.endsWith('/') && path.startsWith(f))), `${path} is packed but not in "files"`);
  }
  for (const f of listed) assert.ok(packed.some((p) => p === f || (f.endsWith('/') && p.startsWith(f))), `"files" lists ${f}, which is not packed`);
});

test('the manifest: name, version, exports with types, sideEffects, engines, license', { skip }, () => {
  const m = manifest();
  assert.equal(m.name, 'authbridge');
  assert.equal(m.version, /^version = "(.+)"$/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1]);
  assert.equal(m.type, 'module');
  assert.equal(m.license, 'MIT OR Apache-2.0');
  assert.ok(m.description && m.keywords?.length, 'a description and keywords');
  assert.equal(m.engines?.node, '>=20');
  assert.ok(existsSync(join(pkgDir, m.types)) && existsSync(join(pkgDir, m.main)), 'top-level types and main exist');

  for (const [subpath, target] of Object.entries(m.exports)) {
    if (subpath === './package.json') { assert.equal(target, './package.json'); continue; }
    assert.equal(typeof target, 'object', `${subpath}: conditions`);
    const conditions = Object.keys(target);
    // TypeScript takes the first matching condition: `types` must come first.
    assert.equal(conditions[0], 'types', `${subpath}: "types" first, found ${conditions.join(', ')}`);
    assert.equal(conditions.at(-1), 'default', `${subpath}: "default" last`);
    for (const [condition, file] of Object.entries(target)) {
      assert.ok(existsSync(join(pkgDir, file)), `${subpath} → ${condition}: ${file} exists`);
      const path = file.slice(2);
      assert.ok(m.files.some((f) => f === path || (f.endsWith('/') && path.startsWith(f))), `${subpath} → ${condition}: ${file} is in "files"`);
    }
  }
  assert.deepEqual(Object.keys(m.exports).sort(), ['.', './authbridge_bg.wasm', './package.json', './react']);

  // Only the self-initialising entries do something at import; every other module may be dropped when unused.
  assert.deepEqual(m.sideEffects, ['./node.js', './deno.js', './workerd.js']);
  for (const f of m.sideEffects) assert.ok(existsSync(join(pkgDir, f)), `${f} exists`);

  // authbridge/react is a client module for React Server Components (Next.js App Router).
  assert.match(readFileSync(join(pkgDir, 'react.js'), 'utf8'), /^'use client';\n/);
  assert.deepEqual(m.peerDependencies, { react: '>=18' });
  assert.deepEqual(m.peerDependenciesMeta, { react: { optional: true } });
  assert.equal(m.dependencies, undefined, 'no runtime dependencies');
});
