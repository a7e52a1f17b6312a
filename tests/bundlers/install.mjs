// Installs the package the way a user gets it: `npm pack` of the built pkg/, the tarball extracted into
// <app>/node_modules/authbridge. Apps live under target/, so that everything else they import (react, vite,
// …) resolves from the repository's node_modules by walking up: no network at test time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

// AUTHBRIDGE_PKG: another built package folder to test instead of pkg/.
const pkgDir = process.env.AUTHBRIDGE_PKG ?? join(root, 'pkg');

export function installPackage(appDir) {
  if (!existsSync(join(pkgDir, 'react.js'))) throw new Error(`build the package first (node scripts/build-pkg.mjs): no ${pkgDir}/react.js`);
  const packDir = join(appDir, '.pack');
  mkdirSync(packDir, { recursive: true });
  const [{ filename }] = JSON.parse(execFileSync('npm', ['pack', pkgDir, '--json', '--pack-destination', packDir],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  const dest = join(appDir, 'node_modules', 'authbridge');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', join(packDir, filename), '-C', dest, '--strip-components=1']);
  return dest;
}
