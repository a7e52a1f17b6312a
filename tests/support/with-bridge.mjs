// Runs a command with the test bridge listening: `node with-bridge.mjs -- cmd args…`. The bridge's URL is in
// AUTHBRIDGE_TEST_BRIDGE; the bridge stops when the command ends (and after 20 minutes at the latest).
import { spawn } from 'node:child_process';
import { startBridge } from './bridge.mjs';

const args = process.argv.slice(process.argv.indexOf('--') + 1);
const bridge = await startBridge();
const guard = setTimeout(() => { console.error('with-bridge: time limit reached'); process.exit(124); }, 20 * 60_000);
const child = spawn(args[0], args.slice(1), { stdio: 'inherit', env: { ...process.env, AUTHBRIDGE_TEST_BRIDGE: bridge.url } });
child.on('exit', async (code, signal) => {
  clearTimeout(guard);
  await bridge.close();
  process.exit(code ?? (signal ? 1 : 0));
});
