// Builds the npm package in pkg/:
//   pkg/bindgen/   wasm-bindgen's output for the npm/ crate (the authbridge crate with its `js-api` feature and the
//                  zero-on-free allocator), as generated: the glue, its JS snippets, and the .wasm shrunk by
//                  npm's binaryen (never Debian's wasm-opt 108, which breaks the module) with the passes below;
//   pkg/*          pkg-template/: the entry module (authbridge.js, re-exporting the glue), its declarations, the
//                  Node/Deno/workerd entries, authbridge/react, package.json, README.
// Nothing generated is edited. pkg/ is generated: never edit it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const raw = join(root, 'target', 'wasm-pack');
const out = join(root, 'pkg');
const run = (cmd, args, options = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });

// wasm-opt's passes, after -Oz (each measured on the shipped .wasm, gzip -9, against -Oz alone; see
// bench/dependency-costs.md).
const WASM_OPT_PASSES = [
  '-Oz', '--strip-debug', '--strip-producers',
  '--converge', // -Oz again until the module stops shrinking: -140 B
  '--low-memory-unused', // the low 1 KiB is never used (the stack starts at 1 MiB and grows down, data above it): -361 B
  // binaryen inlines every function called once, whatever its size, which gzips worse: -1,228 B with the two above
  '--one-caller-inline-max-function-size', '20',
  '--strip-target-features', // the features section is for tools, not engines: -99 B
  // The features rustc emits for wasm32 by default; binaryen must know them to keep the module valid.
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
];

// With the pinned nightly (scripts/size-toolchain, installed by install-deps.sh), std is rebuilt with panics
// that abort at once: no panic messages or formatting machinery in the module. The core never panics on any
// input (fuzzed), so nothing is lost but bytes. Without that toolchain, stable Rust builds the same code.
const toolchain = readFileSync(join(root, 'scripts', 'size-toolchain'), 'utf8').trim();
// wasm-pack leaves files of an earlier build in its output folder (a snippet since removed): start afresh.
rmSync(raw, { recursive: true, force: true });
const hasNightly = (() => {
  try {
    const sysroot = execFileSync('rustup', ['run', toolchain, 'rustc', '--print', 'sysroot'], { encoding: 'utf8' }).trim();
    return statSync(join(sysroot, 'lib', 'rustlib', 'src', 'rust', 'library')).isDirectory()
      && statSync(join(sysroot, 'lib', 'rustlib', 'wasm32-unknown-unknown')).isDirectory();
  } catch {
    return false;
  }
})();
const wasmPack = ['build', '--release', '--target', 'web', '--no-typescript', '--no-pack', '--out-dir', raw,
  '--out-name', 'authbridge', 'npm'];
if (hasNightly) {
  run('wasm-pack', [...wasmPack, '--', '-Z', 'build-std=std,panic_abort'], {
    // `-Zfmt-debug=none -Zlocation-detail=none`: no `{:?}` output and no panic locations (nothing reads either in
    // the shipped module); measured 46.0 -> 45.3 KB gzip here (bench/RESULTS.md section 7).
    env: { ...process.env, RUSTUP_TOOLCHAIN: toolchain,
      RUSTFLAGS: '-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none',
      CARGO_TARGET_DIR: join(root, 'target', 'pkg-nightly') },
  });
} else {
  console.warn(`build-pkg: ${toolchain} with rust-src and wasm32 is not installed; building with stable Rust (larger)`);
  run('wasm-pack', wasmPack);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'bindgen'), { recursive: true });
for (const f of ['authbridge.js', 'snippets']) cpSync(join(raw, f), join(out, 'bindgen', f), { recursive: true });
run(join(root, 'node_modules', '.bin', 'wasm-opt'), [...WASM_OPT_PASSES,
  join(raw, 'authbridge_bg.wasm'), '-o', join(out, 'bindgen', 'authbridge_bg.wasm')]);

const version = /^version = "(.+)"$/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1];
const pkg = JSON.parse(readFileSync(join(root, 'pkg-template', 'package.json'), 'utf8'));
pkg.version = version;
writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
for (const f of ['authbridge.d.ts', 'authbridge_bg.wasm.d.ts', 'README.md', 'node.js', 'deno.js', 'workerd.js', 'react.js', 'react.d.ts']) {
  cpSync(join(root, 'pkg-template', f), join(out, f));
}
for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) cpSync(join(root, f), join(out, f));
// The entry module, with the crate's version for version() and the glue's JS snippets imported beside the glue.
{
  const entry = readFileSync(join(root, 'pkg-template', 'authbridge.js'), 'utf8');
  const placeholder = "const VERSION = '0.0.0';";
  if (!entry.includes(placeholder)) throw new Error(`build-pkg: pkg-template/authbridge.js has no ${placeholder}`);
  const snippetsHere = '// The glue\'s JS snippets: written by scripts/build-pkg.mjs.';
  if (!entry.includes(snippetsHere)) throw new Error(`build-pkg: pkg-template/authbridge.js has no ${snippetsHere}`);
  const snippets = readdirSync(join(out, 'bindgen', 'snippets'), { recursive: true })
    .filter((f) => f.endsWith('.js')).map((f) => `import './bindgen/snippets/${f.split(sep).join('/')}';`).sort();
  writeFileSync(join(out, 'authbridge.js'), entry.replace(placeholder, `const VERSION = ${JSON.stringify(version)};`)
    .replace(snippetsHere, snippets.join('\n')));
}

const wasm = readFileSync(join(out, 'bindgen', 'authbridge_bg.wasm'));
const js = readFileSync(join(out, 'bindgen', 'authbridge.js'));
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
console.log(`pkg/ ${pkg.name}@${version} (${hasNightly ? toolchain : 'stable'}): wasm ${kb(wasm.length)} (gzip ${kb(gzipSync(wasm, { level: 9 }).length)}), ` +
  `glue ${kb(js.length)} (gzip ${kb(gzipSync(js, { level: 9 }).length)})`);
