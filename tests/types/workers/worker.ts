// A Cloudflare Worker: the `workerd` entry initialises itself; the .wasm subpath is a CompiledWasm module.
import { AuthClient, initSync, isAuthError, type InitInput } from 'authbridge';
import wasm from 'authbridge/authbridge_bg.wasm';
import { explain } from '../shared/api.ts';

interface Env { POINT_URL: string; POINT_API_KEY: string }

declare const compiledElsewhere: WebAssembly.Module;
const compiled: InitInput = wasm;
initSync({ module: compiledElsewhere });
void compiled;

let auth: AuthClient | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    auth ??= new AuthClient({
      tokenUrl: `${env.POINT_URL}/access_token`,
      apiOrigins: [new URL(env.POINT_URL).origin],
      format: 'point',
      bridgeHeaders: { Authorization: `Bearer ${env.POINT_API_KEY}` },
    });
    try {
      // The incoming request (with its `cf` properties) and a URL both go to auth.fetch.
      const proxied = await auth.fetch(new Request(new URL('/v1/me', env.POINT_URL), request));
      ctx.waitUntil(auth.fetch(new URL('/v1/ping', env.POINT_URL)).then(() => undefined));
      await auth.fetch(request);
      return new Response(proxied.body, proxied);
    } catch (e) {
      return new Response(isAuthError(e) ? explain(e.code) : 'error', { status: 502 });
    }
  },
} satisfies ExportedHandler<Env>;
