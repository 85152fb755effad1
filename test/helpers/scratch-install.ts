/**
 * Installs this checkout as a user would get it: `npm pack` into a scratch directory, then
 * `npm ci --offline` of the tarball into a scratch project, with no registry. The scratch
 * project's lockfile is this checkout's, less its devDependencies, plus the tarball itself, so
 * every dependency resolves by integrity from the local npm cache (the one `npm ci` filled here).
 */
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A scratch project with the packed package installed. */
export interface ScratchInstall {
  /** The scratch project's directory (holds node_modules/). */
  dir: string;
  /** The installed package's directory, node_modules/<name>. */
  pkgDir: string;
  /** The package's name from package.json. */
  name: string;
}

interface LockEntry { dev?: boolean; link?: boolean }

/** Runs `npm ...args` in `cwd`; rejects with npm's output when it fails. */
function npm(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`npm ${args.join(' ')} failed: ${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Packs `repoRoot` into `dir` and installs the tarball into `dir`/project, offline. */
export async function installPacked(repoRoot: string, dir: string): Promise<ScratchInstall> {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string };
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const tgzName = (await npm(repoRoot, ['pack', '--silent', '--pack-destination', dir])).trim().split('\n').pop()!;
  const project = path.join(dir, 'project');
  fs.mkdirSync(project);
  const resolved = `file:../${tgzName}`;
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(path.join(dir, tgzName))).digest('base64')}`;
  const root = { name: 'scratch', version: '1.0.0', private: true, dependencies: { [pkg.name]: resolved } };
  const packages: Record<string, unknown> = {
    '': root,
    [`node_modules/${pkg.name}`]: {
      version: pkg.version, resolved, integrity, license: pkg.license, bin: pkg.bin, engines: pkg.engines,
      dependencies: pkg.dependencies, optionalDependencies: pkg.optionalDependencies,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) if (key && !entry.dev && !entry.link) packages[key] = entry;
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(root, null, 2));
  fs.writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({ ...root, lockfileVersion: 3, requires: true, packages }, null, 2));
  // --ignore-scripts: tfjs-node's install script downloads libtensorflow; Tessera falls back to wasm.
  await npm(project, ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund']);
  return { dir: project, pkgDir: path.join(project, 'node_modules', ...pkg.name.split('/')), name: pkg.name };
}
