// `make bench` (section 8): what depending on authbridge adds to a Rust app's download. bench/rust-app/ is one
// small app built twice, without and with its `authbridge` feature (the same request, sent by hand or through
// `authbridge::web::Client`), in Cargo's default release profile and in a size profile, each with and without
// wasm-opt -Oz (npm binaryen). The download is the .wasm plus wasm-bindgen's glue minified by esbuild, each gzip -9.
// `node bench/rust-app.mjs` prints the figures as JSON.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../', import.meta.url));
const app = `${root}bench/rust-app/`;
const out = `${root}bench/build/rust-app/`;
const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function download(dir, name) {
  const glue = await build({ entryPoints: [`${dir}${name}.js`], bundle: true, minify: true, format: 'esm', platform: 'browser',
    write: false, logLevel: 'error', external: ['*.wasm'] });
  const wasm = readFileSync(`${dir}${name}_bg.wasm`);
  return { wasm: gzip(wasm), glue: gzip(Buffer.from(glue.outputFiles[0].contents)), wasmRaw: wasm.length };
}

export async function rustAppSizes() {
  const rows = [];
  for (const profile of ['release', 'size']) {
    for (const withAuthbridge of [false, true]) {
      execFileSync('cargo', ['build', '--quiet', '--locked', '--lib', '--target', 'wasm32-unknown-unknown', '--profile', profile,
        ...(withAuthbridge ? ['--features', 'authbridge'] : [])], { cwd: app, stdio: 'inherit' });
      const dir = `${out}${profile}-${withAuthbridge ? 'authbridge' : 'alone'}/`;
      mkdirSync(dir, { recursive: true });
      execFileSync('wasm-bindgen', ['--target', 'web', '--no-typescript', '--out-dir', dir, '--out-name', 'app',
        `${app}target/wasm32-unknown-unknown/${profile}/authbridge_bench_rust_app.wasm`], { stdio: 'inherit' });
      const plain = await download(dir, 'app');
      execFileSync(`${root}node_modules/.bin/wasm-opt`, ['-Oz', '--enable-bulk-memory', '--enable-nontrapping-float-to-int',
        '--enable-sign-ext', '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
        `${dir}app_bg.wasm`, '-o', `${dir}app_bg.wasm`], { stdio: 'inherit' });
      const optimised = await download(dir, 'app');
      rows.push({ profile, authbridge: withAuthbridge, plain, wasmOpt: optimised });
    }
  }
  return rows;
}

// The report's section: per profile and wasm-opt setting, the app alone, with authbridge, and the difference.
export function rustAppSection(rows) {
  const L = ['## 8. What authbridge adds to a Rust app\'s download', '',
    '`bench/rust-app/`: one request sent with `fetch` by hand, or by signing in with `authbridge::web::Client` and sending it',
    'through the client\'s `fetch`. Download = `.wasm` + esbuild-minified wasm-bindgen glue, each gzip -9, in bytes. The crate',
    'sets no allocator and exports nothing, so this is the client, the core and their dependencies (gloo-net, gloo-storage,',
    'serde, serde-wasm-bindgen, base64, wasm-bindgen-futures). `size` is `opt-level = "z"`, `lto`, one codegen unit,',
    '`panic = "abort"`, `strip`, on stable Rust.', '',
    '| profile | wasm-opt -Oz | app alone | app with authbridge | authbridge adds |', '|---|---|---:|---:|---:|'];
  for (const profile of ['release', 'size']) {
    for (const opt of ['plain', 'wasmOpt']) {
      const [alone, withAb] = [false, true].map((a) => rows.find((r) => r.profile === profile && r.authbridge === a)[opt]);
      const total = (d) => d.wasm + d.glue;
      L.push(`| ${profile} | ${opt === 'wasmOpt' ? 'yes' : 'no'} | ${total(alone).toLocaleString('en')} | ${total(withAb).toLocaleString('en')} | **${(total(withAb) - total(alone)).toLocaleString('en')}** |`);
    }
  }
  return L.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await rustAppSizes();
  console.log(JSON.stringify(rows, null, 1));
  console.log(rustAppSection(rows));
}
