// Cold start in Deno, each run a fresh process: compile + instantiate the module, construct a client, obtain the
// first token. With `plain` as third argument it measures only the bridge call done by hand (the baseline).
// Usage: deno run --allow-read --allow-net=127.0.0.1 bench/cold-start-deno.ts <tokenUrl> <apiKey> [plain]
const [tokenUrl, apiKey, mode] = Deno.args;
const t0 = performance.now();
if (mode === 'plain') {
  await (await fetch(tokenUrl, { method: 'POST', headers: { Authorization: `Bearer ${apiKey}` } })).json();
  console.log(JSON.stringify({ plainFirstFetch: +(performance.now() - t0).toFixed(2) }));
} else {
  const { initSync, AuthClient } = await import('../pkg/authbridge.js');
  const bytes = Deno.readFileSync(new URL('../pkg/bindgen/authbridge_bg.wasm', import.meta.url));
  const t1 = performance.now();
  initSync({ module: bytes });
  const t2 = performance.now();
  const auth = new AuthClient({ tokenUrl, apiOrigins: [new URL(tokenUrl).origin], format: 'point', storage: 'memory', bridgeHeaders: { Authorization: `Bearer ${apiKey}` } });
  const t3 = performance.now();
  await auth.accessToken();
  const t4 = performance.now();
  console.log(JSON.stringify({ importAndRead: +(t1 - t0).toFixed(2), compileInstantiate: +(t2 - t1).toFixed(2), newClient: +(t3 - t2).toFixed(2), firstToken: +(t4 - t3).toFixed(2) }));
}
