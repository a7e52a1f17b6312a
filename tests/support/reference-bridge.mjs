// Starts the reference bridge (bridge/, built by `cargo build -p authbridge-bridge`) on a free 127.0.0.1 port.
// It stops when close() is called, and by itself after `exitAfter` seconds in any case.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function startReferenceBridge({ tokenLifetime = 4, pointLifetime, exitAfter = 600, extra = [] } = {}) {
  const bin = join(root, 'target', 'debug', 'authbridge-bridge');
  if (!existsSync(bin)) throw new Error('build the bridge first: cargo build -p authbridge-bridge');
  const urlFile = join(mkdtempSync(join(tmpdir(), 'authbridge-')), 'url');
  // Sessions in memory: each test's bridge starts empty and leaves no database behind.
  const args = ['--addr', '127.0.0.1:0', '--store', 'memory', '--token-lifetime', String(tokenLifetime), '--test-hooks', '--quiet',
    '--exit-after', String(exitAfter), '--print-url-file', urlFile, ...extra];
  if (pointLifetime) args.push('--point-lifetime', String(pointLifetime));
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  while (!existsSync(urlFile) || !readFileSync(urlFile, 'utf8')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the reference bridge did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = readFileSync(urlFile, 'utf8');
  return {
    url,
    stats: () => fetch(`${url}/test/stats`).then((r) => r.json()),
    close: () => new Promise((r) => { if (child.exitCode !== null) return r(); child.once('exit', r); child.kill('SIGINT'); }),
  };
}
