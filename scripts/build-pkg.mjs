// Builds the npm package in pkg/: wasm-pack's `--target web` output, shrunk by npm's binaryen (never
// Debian's wasm-opt 108, which breaks the module), merged with pkg-template/. pkg/ is generated: never edit it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const raw = join(root, 'target', 'wasm-pack');
const out = join(root, 'pkg');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// With the pinned nightly (scripts/size-toolchain, installed by install-deps.sh), std is rebuilt with panics
// that abort at once: no panic messages or formatting machinery in the module. The core never panics on any
// input (fuzzed), so nothing is lost but bytes. Without that toolchain, stable Rust builds the same code.
const toolchain = readFileSync(join(root, 'scripts', 'size-toolchain'), 'utf8').trim();
const hasNightly = (() => {
  try {
    const sysroot = execFileSync('rustup', ['run', toolchain, 'rustc', '--print', 'sysroot'], { encoding: 'utf8' }).trim();
    return statSync(join(sysroot, 'lib', 'rustlib', 'src', 'rust', 'library')).isDirectory()
      && statSync(join(sysroot, 'lib', 'rustlib', 'wasm32-unknown-unknown')).isDirectory();
  } catch {
    return false;
  }
})();
if (hasNightly) {
  execFileSync('wasm-pack', ['build', '--release', '--target', 'web', '--out-dir', raw, '--no-pack', '.', '--',
    '-Z', 'build-std=std,panic_abort'], {
    cwd: root, stdio: 'inherit',
    env: { ...process.env, RUSTUP_TOOLCHAIN: toolchain, RUSTFLAGS: '-Zunstable-options -Cpanic=immediate-abort',
      CARGO_TARGET_DIR: join(root, 'target', 'pkg-nightly') },
  });
} else {
  console.warn(`build-pkg: ${toolchain} with rust-src and wasm32 is not installed; building with stable Rust (larger)`);
  run('wasm-pack', ['build', '--release', '--target', 'web', '--out-dir', raw, '--no-pack']);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
run(join(root, 'node_modules', '.bin', 'wasm-opt'), [
  '-Oz', '--strip-debug', '--strip-producers',
  // The features rustc emits for wasm32 by default; binaryen must know them to keep the module valid.
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
  join(raw, 'authbridge_bg.wasm'), '-o', join(out, 'authbridge_bg.wasm'),
]);
for (const f of ['authbridge.js', 'authbridge.d.ts', 'authbridge_bg.wasm.d.ts', 'snippets']) {
  cpSync(join(raw, f), join(out, f), { recursive: true });
}

const version = /^version = "(.+)"$/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1];
const pkg = JSON.parse(readFileSync(join(root, 'pkg-template', 'package.json'), 'utf8'));
pkg.version = version;
writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
for (const f of ['README.md', 'node.js', 'deno.js', 'workerd.js', 'react.js', 'react.d.ts', 'LICENSE-MIT', 'LICENSE-APACHE']) cpSync(join(root, f.startsWith('LICENSE') ? '.' : 'pkg-template', f), join(out, f));

const wasm = readFileSync(join(out, 'authbridge_bg.wasm'));
const js = readFileSync(join(out, 'authbridge.js'));
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
console.log(`pkg/ ${pkg.name}@${version} (${hasNightly ? toolchain : 'stable'}): wasm ${kb(wasm.length)} (gzip ${kb(gzipSync(wasm, { level: 9 }).length)}), ` +
  `glue ${kb(js.length)} (gzip ${kb(gzipSync(js, { level: 9 }).length)})`);
