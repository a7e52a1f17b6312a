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
    // `-Zfmt-debug=none -Zlocation-detail=none`: no `{:?}` output and no panic locations (nothing reads either in
    // the shipped module); measured 46.0 -> 45.3 KB gzip here (bench/RESULTS.md section 7).
    env: { ...process.env, RUSTUP_TOOLCHAIN: toolchain,
      RUSTFLAGS: '-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none',
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
  // Measured by helper-4 on the shipped .wasm (at 5a233a9), gzip -9, one at a time against -Oz alone (45,530 B), then
  // together:
  '--converge', // -Oz again until the module stops shrinking: -140 B
  '--low-memory-unused', // the low 1 KiB is never used (the stack starts at 1 MiB and grows down, data sits above it): -361 B
  // binaryen inlines every function called once, whatever its size, which gzips worse: -1,228 B on top of the two
  // above (15-30 measure within ~130 B of each other; re-sweep after large changes in src/)
  '--one-caller-inline-max-function-size', '20',
  '--strip-target-features', // the features section is for tools, not engines: -99 B; all four: 45,530 -> 43,664 B
  // The features rustc emits for wasm32 by default; binaryen must know them to keep the module valid.
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
  join(raw, 'authbridge_bg.wasm'), '-o', join(out, 'authbridge_bg.wasm'),
]);
for (const f of ['authbridge.js', 'authbridge.d.ts', 'authbridge_bg.wasm.d.ts', 'snippets']) {
  cpSync(join(raw, f), join(out, f), { recursive: true });
}

// Use before init(): wasm-bindgen's glue would fail with "Cannot read properties of undefined". Until the module
// is instantiated, `wasm` is a stand-in whose every property access throws an AuthbridgeError that says what to
// do. Each replacement must match exactly: a wasm-bindgen upgrade that changes the glue fails the build here.
{
  const glue = join(out, 'authbridge.js');
  let text = readFileSync(glue, 'utf8');
  const replace = (from, to, count) => {
    const found = text.split(from).length - 1;
    if (found !== count) throw new Error(`build-pkg: expected ${count} × ${JSON.stringify(from)} in the glue, found ${found}`);
    text = text.split(from).join(to);
  };
  replace('let wasmModule, wasmInstance, wasm;', `const notInitialized = new Proxy({}, { get() {
    const e = new Error('authbridge is not initialised: call init() first (await init(), or initSync({ module }) with the .wasm bytes); the Node, Deno and workerd entries do it for you');
    e.name = 'AuthbridgeError';
    e.code = 'not_initialized';
    throw e;
} });
let wasmModule, wasmInstance, wasm = notInitialized;`, 1);
  replace('if (wasm !== undefined) return wasm;', 'if (wasm !== notInitialized) return wasm;', 2);
  // AuthClient defines its own free() (idempotent: it shuts the client down and keeps the object, so that a late
  // call gets a `freed` error instead of a null pointer); wasm-bindgen's generated one, which comes first in the
  // class body, is dropped so that bundlers see no duplicate member. The finaliser still releases the memory.
  replace(`    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_authclient_free(ptr, 0);
    }
`, '', 1);
  writeFileSync(glue, text);
}

const version = /^version = "(.+)"$/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1];
const pkg = JSON.parse(readFileSync(join(root, 'pkg-template', 'package.json'), 'utf8'));
pkg.version = version;
writeFileSync(join(out, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
for (const f of ['README.md', 'node.js', 'deno.js', 'workerd.js', 'react.js', 'react.d.ts', 'LICENSE-MIT', 'LICENSE-APACHE']) cpSync(join(root, f.startsWith('LICENSE') ? '.' : 'pkg-template', f), join(out, f));

// ---- .d.ts post-processing (types: src/web/types.d.ts, checked by tests/types/ and tests/js/types.test.mjs) ----
// wasm-bindgen's generated declarations name DOM-only types (RequestInfo, BufferSource, WebAssembly.*), which do
// not exist in a Node (@types/node) or Cloudflare Workers project: they are rewritten to the aliases defined in
// src/web/types.d.ts (Bytes, WasmModule, WasmMemory, WasmTable), which resolve to the DOM's own types where the
// DOM is there. Every replacement must match exactly, and no DOM-only name may remain outside comments: a
// wasm-bindgen upgrade that changes the output fails the build here instead of shipping types that do not compile.
{
  const dts = join(out, 'authbridge.d.ts');
  let text = readFileSync(dts, 'utf8');
  const replace = (from, to) => {
    const found = text.split(from).length - 1;
    if (found === 0) throw new Error(`build-pkg (.d.ts): expected ${JSON.stringify(from)} in authbridge.d.ts, found none`);
    text = text.split(from).join(to);
  };
  replace('export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;',
    'export type InitInput = Request | string | URL | Response | Bytes | WasmModule;');
  replace('export type SyncInitInput = BufferSource | WebAssembly.Module;', 'export type SyncInitInput = Bytes | WasmModule;');
  replace('readonly memory: WebAssembly.Memory;', 'readonly memory: WasmMemory;');
  replace(': WebAssembly.Table;', ': WasmTable;');
  if (!/^type WasmModule = /m.test(text)) throw new Error('build-pkg (.d.ts): the aliases of src/web/types.d.ts are missing');
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const domOnly = /\b(?:WebAssembly\s*\.|RequestInfo|BufferSource|RequestCredentials|HeadersInit|BodyInit|Window|Document|HTMLElement|Storage|StorageEvent)\b/.exec(code);
  if (domOnly) throw new Error(`build-pkg (.d.ts): DOM-only type ${JSON.stringify(domOnly[0])} left in authbridge.d.ts`);
  writeFileSync(dts, text);
  // wasm-pack's authbridge_bg.wasm.d.ts describes the module's raw exports as if the .wasm were imported as an ES
  // module, which works nowhere (its imports come from the glue). The `./authbridge_bg.wasm` subpath is what a
  // bundler or workerd turns into a URL, bytes or a compiled module: pkg-template's file types it as InitInput.
  cpSync(join(root, 'pkg-template', 'authbridge_bg.wasm.d.ts'), join(out, 'authbridge_bg.wasm.d.ts'));
}
// ---- end of .d.ts post-processing ----

const wasm = readFileSync(join(out, 'authbridge_bg.wasm'));
const js = readFileSync(join(out, 'authbridge.js'));
const kb = (n) => (n / 1024).toFixed(1) + ' KB';
console.log(`pkg/ ${pkg.name}@${version} (${hasNightly ? toolchain : 'stable'}): wasm ${kb(wasm.length)} (gzip ${kb(gzipSync(wasm, { level: 9 }).length)}), ` +
  `glue ${kb(js.length)} (gzip ${kb(gzipSync(js, { level: 9 }).length)})`);
