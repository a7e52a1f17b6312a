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

// Renames the exports of a wasm binary: `names` maps each export's name to its new one (every export must be
// there). The export section is re-encoded; every other byte is kept.
function renameExports(bytes, names) {
  const uleb = (n) => { const o = []; do { o.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n = Math.floor(n / 128); } while (n); return o; };
  let p = 8;
  const leb = () => { let n = 0, shift = 0, b; do { b = bytes[p++]; n += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return n; };
  while (p < bytes.length) {
    const start = p, id = bytes[p++], size = leb(), end = p + size;
    if (id !== 7) { p = end; continue; }
    const count = leb(), content = [...uleb(count)];
    if (count !== names.size) throw new Error(`build-pkg: the module has ${count} exports, ${names.size} names were given`);
    for (let i = 0; i < count; i++) {
      const len = leb();
      const name = new TextDecoder().decode(bytes.subarray(p, p + len));
      p += len;
      const kind = bytes[p++];
      const index = leb();
      if (!names.has(name)) throw new Error(`build-pkg: no new name for the export ${name}`);
      const encoded = new TextEncoder().encode(names.get(name));
      content.push(...uleb(encoded.length), ...encoded, kind, ...uleb(index));
    }
    if (p !== end) throw new Error('build-pkg: malformed export section');
    return Buffer.concat([bytes.subarray(0, start), Buffer.from([7, ...uleb(content.length), ...content]), bytes.subarray(end)]);
  }
  throw new Error('build-pkg: the module has no export section');
}

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
// `--minify-imports-and-exports-and-modules` (run after -Oz) renames every import to module "a" with a short name and
// every export to a short name, and prints the old -> new mapping as JSON on stdout: the glue is rewritten to match
// below ("Short names across the wasm/JS boundary").
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
// A run of its own: `--converge` repeats every pass of its run, and this one must rename once.
const minified = JSON.parse(execFileSync(join(root, 'node_modules', '.bin', 'wasm-opt'), [
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
  '--minify-imports-and-exports-and-modules',
  join(out, 'authbridge_bg.wasm'), '-o', join(out, 'authbridge_bg.wasm'),
], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 }));
// The exports are then renamed again, here: binaryen draws import and export names from one sequence, so with
// 118 imports its export names are two characters long, while exports and imports are separate namespaces and the
// exports fit in one character each (measured: wasm 49,441 -> 49,411 B gzip, minified glue 4,030 -> 3,999 B).
// `memory` keeps its name: applications read `(await init()).memory`, and so do tests.
// exportNames: wasm-bindgen's name of each export -> its name in pkg/authbridge_bg.wasm.
const exportNames = new Map();
{
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const short = (i) => { let s = ''; for (i++; i > 0; i = Math.floor(i / 52)) s = letters[--i % 52] + s; return s; };
  const binaryenToFinal = new Map();
  let next = 0;
  for (const [from, to] of minified.exports) {
    const name = from === 'memory' ? from : short(next++);
    exportNames.set(from, name);
    binaryenToFinal.set(to, name);
  }
  if (!exportNames.has('memory')) throw new Error('build-pkg: the module exports no `memory`');
  const file = join(out, 'authbridge_bg.wasm');
  writeFileSync(file, renameExports(readFileSync(file), binaryenToFinal));
}
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
  // That generated free() was the only caller of __destroy_into_raw (no function takes an AuthClient by value).
  replace(`    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        AuthClientFinalization.unregister(this);
        return ptr;
    }
`, '', 1);
  if (text.includes('__destroy_into_raw')) throw new Error('build-pkg: the glue still calls __destroy_into_raw');

  // ---- One helper for the exports returning `Result<JsValue, JsValue>` ----
  // wasm-bindgen writes the same 12 lines into each of them (reserve 16 bytes of the wasm stack, call the export
  // with that pointer, read three i32, throw the error or take the value, release the stack): here each becomes
  // `return takeResult(wasm.<export>, <arguments>);` over one helper doing exactly that. The lines before the call
  // (a string copied into wasm memory) stay before it. Every such body must match (the constructor's differs: kept).
  {
    const body = /\n( +)try \{\n +const retptr = wasm\.__wbindgen_add_to_stack_pointer\(-16\) >>> 0;\n((?: +const [\w$]+ = [^\n]+;\n)*) +wasm\.([\w$]+)\(retptr(, [^\n]*)?\);\n +var r0 = getDataViewMemory0\(\)\.getInt32\(retptr \+ 4 \* 0, true\);\n +var r1 = getDataViewMemory0\(\)\.getInt32\(retptr \+ 4 \* 1, true\);\n +var r2 = getDataViewMemory0\(\)\.getInt32\(retptr \+ 4 \* 2, true\);\n +if \(r2\) \{\n +throw takeFromExternrefTable0\(r1\);\n +\}\n +return takeFromExternrefTable0\(r0\);\n +\} finally \{\n +wasm\.__wbindgen_add_to_stack_pointer\(16\);\n +\}\n/g;
    const found = text.match(body)?.length ?? 0;
    if (found < 10) throw new Error(`build-pkg: expected the Result-returning exports' bodies in the glue, found ${found}`);
    text = text.replace(body, (_, indent, pre, name, args) =>
      `\n${pre.replace(/^ +/gm, indent)}${indent}return takeResult(wasm.${name}${args ?? ''});\n`);
    if (text.includes('return takeFromExternrefTable0(r0);')) throw new Error('build-pkg: a Result-returning export was not rewritten');
    replace('\nfunction takeFromExternrefTable0(idx) {', `
function takeResult(f, ...args) {
    const retptr = wasm.__wbindgen_add_to_stack_pointer(-16) >>> 0;
    try {
        f(retptr, ...args);
        const view = getDataViewMemory0();
        if (view.getInt32(retptr + 8, true)) throw takeFromExternrefTable0(view.getInt32(retptr + 4, true));
        return takeFromExternrefTable0(view.getInt32(retptr, true));
    } finally {
        wasm.__wbindgen_add_to_stack_pointer(16);
    }
}

function takeFromExternrefTable0(idx) {`, 1);
  }

  // isAuthError() and version() are plain JavaScript (declared in src/web/types.d.ts): as exports of the module,
  // each cost a wasm function, an export and a wrapper here. isAuthError is what the Rust version was: an Error
  // (of this realm) named AuthbridgeError with a string `code`, false if reading them throws.
  if (/\bfunction (?:isAuthError|version)\b/.test(text)) throw new Error('build-pkg: the module exports isAuthError or version again');
  replace('\nexport { initSync, __wbg_init as default };', `
export function isAuthError(value) {
    try {
        return value instanceof Error && value.name === 'AuthbridgeError' && typeof value.code === 'string';
    } catch {
        return false;
    }
}

export function version() {
    return ${JSON.stringify(/^version = "(.+)"$/m.exec(readFileSync(join(root, 'Cargo.toml'), 'utf8'))[1])};
}

export { initSync, __wbg_init as default };`, 1);

  // ---- Glue that never runs, or runs the long way, in the runtimes authbridge supports ----
  // (Those have AbortSignal.timeout, which every bridge call uses: Chrome 103, Firefox 100, Safari 16, Node 17.3.)
  // passStringToWasm0's branch for a missing `realloc`: every call passes wasm-bindgen's realloc.
  {
    const calls = text.match(/\bpassStringToWasm0\(/g).length - 1; // minus the definition
    const full = text.match(/\bpassStringToWasm0\([\w$.]+, wasm\.[\w$]+, wasm\.[\w$]+\)/g)?.length ?? 0;
    if (calls !== full) throw new Error(`build-pkg: ${calls - full} passStringToWasm0 call(s) without realloc`);
  }
  replace(`    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

`, '', 1);
  // The polyfill of TextEncoder.encodeInto (in every such runtime: Safari 14.1, Node 12).
  replace(`
if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
`, '', 1);
  // The DataView is stale exactly when the memory's buffer is another one (grown: the old one is detached).
  replace('if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {',
    'if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer !== wasm.memory.buffer) {', 1);
  // ---- Short names across the wasm/JS boundary ----
  // wasm-bindgen names its imports `__wbg_<name>_<16 hex digits>` under the module "./authbridge_bg.js" (plus one
  // module per JS snippet) and exports things like `__wbindgen_add_to_stack_pointer` or `authclient_getSnapshot`:
  // each name is stored once in the .wasm and once or more in the glue, where no minifier may shorten it (they are
  // property names). wasm-opt renamed them all (above); here the glue follows: the import object becomes a single
  // module whose keys are the new import names (the snippets' functions join it, which also removes the duplicate
  // keys wasm-bindgen writes for a snippet imported by several functions), and every `wasm.<export>` uses the new
  // name. The shipped download, measured here: wasm 52,146 -> 49,411 B gzip (zlib level 9, as printed at the end;
  // 114.2 -> 107.9 KB raw), minified glue 5,610 -> 3,999 B (`esbuild --minify pkg/authbridge.js | gzip -9`). The
  // .wasm's code is unchanged: only its import and export sections differ.
  const ident = /^[A-Za-z_$][\w$]*$/;
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const occurrences = (name) => text.match(new RegExp(`(?<![\\w$])${esc(name)}(?![\\w$])`, 'g'))?.length ?? 0;
  const module = new WebAssembly.Module(readFileSync(join(out, 'authbridge_bg.wasm')));
  const exported = WebAssembly.Module.exports(module).map((e) => e.name).sort();
  if (exported.join() !== [...exportNames.values()].sort().join()) throw new Error('build-pkg: the module\'s exports are not the mapping\'s');
  const modules = new Set(WebAssembly.Module.imports(module).map((i) => i.module));
  if (modules.size !== 1) throw new Error(`build-pkg: expected one import module after wasm-opt, found ${[...modules]}`);
  const [newModule] = modules;
  for (const [, , to] of minified.imports) if (!ident.test(to)) throw new Error(`build-pkg: import name ${to} is not an identifier`);
  for (const to of exportNames.values()) if (!ident.test(to)) throw new Error(`build-pkg: export name ${to} is not an identifier`);

  // `return { __proto__: null, "<module>": importN, ... };` at the end of __wbg_get_imports().
  const returns = [...text.matchAll(/\n    return \{\n        __proto__: null,\n((?:        "[^"\n]+": [\w$]+,\n)+)    \};\n/g)];
  if (returns.length !== 1) throw new Error(`build-pkg: expected 1 import object in the glue, found ${returns.length}`);
  const varsOf = new Map();
  for (const [, m, v] of returns[0][1].matchAll(/        "([^"\n]+)": ([\w$]+),\n/g)) varsOf.set(m, [...(varsOf.get(m) ?? []), v]);
  const importModules = new Set(minified.imports.map(([m]) => m));
  if (varsOf.size !== importModules.size || ![...importModules].every((m) => varsOf.has(m))) {
    throw new Error(`build-pkg: the glue's import modules (${[...varsOf.keys()]}) are not the module's (${[...importModules]})`);
  }
  // Exactly one module is an object literal in the glue (wasm-bindgen's own, "./authbridge_bg.js"): it becomes the
  // only one. The others are snippets, `import * as importN from "<module>"` (one line per import).
  const objects = [...varsOf].filter(([, vs]) => vs.some((v) => text.includes(`    const ${v} = {\n        __proto__: null,\n`)));
  if (objects.length !== 1 || objects[0][1].length !== 1) throw new Error('build-pkg: expected one object literal among the glue\'s import modules');
  const [[objectModule, [objectVar]]] = objects;
  const added = [];
  for (const [m, base, to] of minified.imports) {
    if (m === objectModule) {
      // `        __wbg_foo_0123456789abcdef: function(` is the only occurrence of the name.
      if (occurrences(base) !== 1) throw new Error(`build-pkg: expected the import ${base} once in the glue, found ${occurrences(base)}`);
      replace(`\n        ${base}: function(`, `\n        ${to}: function(`, 1);
    } else {
      if (!ident.test(base)) throw new Error(`build-pkg: snippet import ${base} is not an identifier`);
      added.push(`        ${to}: ${varsOf.get(m)[0]}.${base},\n`);
    }
  }
  for (const [m, vs] of varsOf) {
    if (m === objectModule) continue;
    vs.forEach((v, i) => {
      replace(`import * as ${v} from ${JSON.stringify(m)}\n`, i === 0 ? `import * as ${v} from ${JSON.stringify(m)};\n` : '', 1);
      if (i > 0 && occurrences(v) !== 1) throw new Error(`build-pkg: ${v} is used elsewhere in the glue`);
    });
  }
  replace(`    const ${objectVar} = {\n        __proto__: null,\n`, `    const ${objectVar} = {\n        __proto__: null,\n${added.join('')}`, 1);
  replace(returns[0][0], `\n    return { __proto__: null, ${newModule}: ${objectVar} };\n`, 1);
  // The import object now has exactly the module's imports.
  const body = /\n    const [\w$]+ = \{\n        __proto__: null,\n([\s\S]*?)\n    \};\n    return \{ __proto__/.exec(text)[1];
  const keys = [...body.matchAll(/^        ([\w$]+): /gm)].map((k) => k[1]).sort();
  const wanted = WebAssembly.Module.imports(module).map((i) => i.name).sort();
  if (keys.join() !== wanted.join()) throw new Error('build-pkg: the glue\'s import object does not match the module\'s imports');

  // Every `wasm.<export>` (the glue reads the exports only so, and reads no export the module lacks).
  const reads = /(?<![\w$.])wasm\.([\w$]+)/g;
  const unknown = [...text.matchAll(reads)].map((r) => r[1]).filter((n) => !exportNames.has(n));
  if (unknown.length) throw new Error(`build-pkg: the glue reads exports the module does not have: ${[...new Set(unknown)]}`);
  if (!/(?<![\w$.])wasm\.memory\b/.test(text)) throw new Error('build-pkg: the glue no longer reads wasm.memory');
  text = text.replace(reads, (_, name) => `wasm.${exportNames.get(name)}`);
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
// src/web/types.d.ts (Bytes, WasmModule, WasmMemory), which resolve to the DOM's own types where the
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
  // InitOutput lists the module's raw exports under wasm-bindgen's names, which the wasm no longer has (see "Short
  // names across the wasm/JS boundary"): only `memory` is kept, the others are the glue's business.
  const initOutput = [...text.matchAll(/^export interface InitOutput \{\n((?:    readonly [\w$]+: [^\n]+;\n)+)\}\n/gm)];
  if (initOutput.length !== 1) throw new Error(`build-pkg (.d.ts): expected 1 InitOutput interface, found ${initOutput.length}`);
  const members = [...initOutput[0][1].matchAll(/^    readonly ([\w$]+): /gm)].map((m) => m[1]);
  if (!members.includes('memory') || !members.every((m) => exportNames.has(m))) {
    throw new Error('build-pkg (.d.ts): InitOutput does not list the module\'s exports');
  }
  replace(initOutput[0][0], `export interface InitOutput {
    /** The module's memory (its other exports, with minified names, are internal to authbridge.js). */
    readonly memory: WasmMemory;
}
`);
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
