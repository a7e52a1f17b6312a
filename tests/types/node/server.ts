// A Node server: the `node` entry initialises itself; init/initSync still type-check with Node's own types.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { AuthClient, initSync, isAuthError, type InitInput } from 'authbridge';
import { allOptions, explain } from '../shared/api.ts';

initSync({ module: readFileSync(new URL('authbridge_bg.wasm', import.meta.url)) });
const inputs: InitInput[] = [readFileSync('x.wasm'), new URL('file:///x.wasm'), 'x.wasm', new Request('http://x/x.wasm'), new ArrayBuffer(8)];
void inputs;
// Node's types have no WebAssembly namespace, so InitInput has no module member there: a string is not SyncInitInput.
// @ts-expect-error initSync cannot fetch a URL
initSync({ module: 'x.wasm' });

const auth = new AuthClient({ ...allOptions, tokenUrl: `${process.env.POINT_URL}/token`, bridgeHeaders: { Authorization: `Bearer ${process.env.KEY}` } });

createServer(async (_req, res) => {
  try {
    const r = await auth.fetch(new Request('https://api.example.com/v1/me'), { headers: new Headers({ accept: 'application/json' }) });
    res.end(await r.text());
  } catch (e) {
    res.statusCode = isAuthError(e) && e.code === 'refresh_rejected' ? (e.status ?? 401) : 500;
    res.end(isAuthError(e) ? explain(e.code) : 'error');
  }
}).listen(0);

// @types/node brings esnext.disposable: the client is Disposable and works with `using`.
{
  using scoped = new AuthClient({ tokenUrl: 'http://127.0.0.1:1/token', apiOrigins: ['http://127.0.0.1:1'] });
  const disposable: Disposable = scoped;
  scoped[Symbol.dispose]();
  void disposable;
}
