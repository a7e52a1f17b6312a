// Builds the npm package in pkg/:
//   pkg/bindgen/   the .wasm wasm-bindgen made of the npm/ crate (the authbridge crate with its `js-api` feature and
//                  the zero-on-free allocator), shrunk by npm's binaryen (never Debian's wasm-opt 108, which breaks
//                  the module) with the passes below. The universal build: it runs anywhere, following redirects by
//                  hand outside browsers;
//   pkg/bindgen-browser/  the same without the `server-runtimes` feature (no by-hand code: a browser's fetch
//                  follows redirects itself), what the package gives under the `browser` and `worker` conditions;
//   pkg/authbridge.js, pkg/browser.js  the entry module (pkg-template/authbridge.js: re-exports the glue, says
//                  "call init() first", adds isAuthError/version), each one file: the entry, wasm-bindgen's glue
//                  and its JS snippets bundled by esbuild, over bindgen/ and bindgen-browser/ respectively;
//   pkg/*          the rest of pkg-template/: declarations, the Node/Deno/workerd entries, authbridge/react,
//                  package.json, README.
// The glue is bundled as generated: only the path of the .wasm it fetches is changed. pkg/ is generated: never
// edit it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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
const hasNightly = (() => {
  try {
    const sysroot = execFileSync('rustup', ['run', toolchain, 'rustc', '--print', 'sysroot'], { encoding: 'utf8' }).trim();
    return statSync(join(sysroot, 'lib', 'rustlib', 'src', 'rust', 'library')).isDirectory()
      && statSync(join(sysroot, 'lib', 'rustlib', 'wasm32-unknown-unknown')).isDirectory();
  } catch {
    return false;
  }
})();
/**
 * wasm-pack on npm/ with `cargo` arguments `features`, into target/wasm-pack-`name` (the glue and its snippets stay
 * there, for the entry's bundle); the .wasm through wasm-opt into pkg/`name`.
 * @param {string} name @param {string[]} features
 */
function buildWasm(name, features) {
  const raw = join(root, 'target', `wasm-pack-${name}`);
  // wasm-pack leaves files of an earlier build in its output folder (a snippet since removed): start afresh.
  rmSync(raw, { recursive: true, force: true });
  const wasmPack = ['build', '--release', '--target', 'web', '--no-typescript', '--no-pack', '--out-dir', raw,
    '--out-name', 'authbridge', 'npm'];
  if (hasNightly) {
    run('wasm-pack', [...wasmPack, '--', ...features, '-Z', 'build-std=std,panic_abort'], {
      // `-Zfmt-debug=none -Zlocation-detail=none`: no `{:?}` output and no panic locations (nothing reads either in
      // the shipped module); measured 46.0 -> 45.3 KB gzip here (bench/RESULTS.md section 7).
      env: { ...process.env, RUSTUP_TOOLCHAIN: toolchain,
        RUSTFLAGS: '-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none',
        CARGO_TARGET_DIR: join(root, 'target', 'pkg-nightly') },
    });
  } else {
    console.warn(`build-pkg: ${toolchain} with rust-src and wasm32 is not installed; building with stable Rust (larger)`);
    run('wasm-pack', [...wasmPack, '--', ...features]);
  }
  mkdirSync(join(out, name), { recursive: true });
  run(join(root, 'node_modules', '.bin', 'wasm-opt'), [...WASM_OPT_PASSES,
    join(raw, 'authbridge_bg.wasm'), '-o', join(out, name, 'authbridge_bg.wasm')]);
}

rmSync(out, { recursive: true, force: true });
buildWasm('bindgen', []);
buildWasm('bindgen-browser', ['--no-default-features']);

const version = /^version = "(.+)"$/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1];
const pkg = JSON.parse(readFileSync(join(root, 'pkg-template', 'package.json'), 'utf8'));
pkg.version = version;
writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
for (const f of ['authbridge.d.ts', 'authbridge_bg.wasm.d.ts', 'README.md', 'node.js', 'deno.js', 'workerd.js', 'react.js', 'react.d.ts']) {
  cpSync(join(root, 'pkg-template', f), join(out, f));
}
// authbridge/react under the `browser` and `worker` conditions: the same module over the browser build.
{
  const react = readFileSync(join(root, 'pkg-template', 'react.js'), 'utf8');
  const entry = "from './authbridge.js';";
  if (!react.includes(entry)) throw new Error(`build-pkg: pkg-template/react.js has no ${entry}`);
  writeFileSync(join(out, 'react-browser.js'), react.replace(entry, "from './browser.js';"));
}
for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) cpSync(join(root, f), join(out, f));
// The entry modules, each bundled into one file with the glue and its snippets: a page loading the package
// unbundled then fetches one module instead of five (measured in bench/RESULTS.md section 5), and a bundler gets
// the same code. authbridge.js is over the universal build, browser.js over the browser build.
{
  const entry = readFileSync(join(root, 'pkg-template', 'authbridge.js'), 'utf8');
  const placeholder = "const VERSION = '0.0.0';";
  const glue = "from './bindgen/authbridge.js';";
  for (const text of [placeholder, glue]) {
    if (!entry.includes(text)) throw new Error(`build-pkg: pkg-template/authbridge.js has no ${text}`);
  }
  const versioned = entry.replace(placeholder, `const VERSION = ${JSON.stringify(version)};`);
  for (const [file, dir] of [['authbridge.js', 'bindgen'], ['browser.js', 'bindgen-browser']]) {
    const raw = join(root, 'target', `wasm-pack-${dir}`);
    writeFileSync(join(raw, 'entry.js'), versioned.replace(glue, "from './authbridge.js';"));
    const { outputFiles: [bundle] } = buildSync({ entryPoints: [join(raw, 'entry.js')], bundle: true, format: 'esm',
      write: false, outfile: join(out, file), charset: 'utf8', logLevel: 'error' });
    // The glue fetches the .wasm beside itself; the bundle is one folder up from it. A literal `new URL(…,
    // import.meta.url)` still, which bundlers recognise as an asset.
    const wasmUrl = /new URL\((['"])authbridge_bg\.wasm\1, import\.meta\.url\)/g;
    const found = bundle.text.match(wasmUrl)?.length ?? 0;
    if (found !== 1) throw new Error(`build-pkg: the glue has ${found} × ${wasmUrl}, not one`);
    writeFileSync(join(out, file), bundle.text.replace(wasmUrl, `new URL('./${dir}/authbridge_bg.wasm', import.meta.url)`));
  }
}

const kb = (n) => (n / 1024).toFixed(1) + ' KB';
for (const name of ['bindgen', 'bindgen-browser']) {
  const wasm = readFileSync(join(out, name, 'authbridge_bg.wasm'));
  const js = readFileSync(join(out, name === 'bindgen' ? 'authbridge.js' : 'browser.js'));
  console.log(`pkg/${name}/ ${pkg.name}@${version} (${hasNightly ? toolchain : 'stable'}): wasm ${kb(wasm.length)} (gzip ${kb(gzipSync(wasm, { level: 9 }).length)}), ` +
    `entry with glue ${kb(js.length)} (gzip ${kb(gzipSync(js, { level: 9 }).length)})`);
}
