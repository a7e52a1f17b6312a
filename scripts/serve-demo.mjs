// Serves the demo page (www/ with the built package at /pkg/) on 127.0.0.1 and prints its URL.
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../tests/support/static.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const server = await serveStatic(`${root}www`, { port, mounts: { '/pkg/': `${root}pkg` } });
console.log(`\n  authbridge demo: ${server.url}/\n  (Ctrl-C to stop)\n`);
