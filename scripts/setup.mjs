// One idempotent set-up step for a fresh clone or a warm one (seconds when nothing changed):
//   1. npm dependencies, installed from package-lock.json when they are missing or stale;
//   2. the mediasoup worker (scripts/provision-worker.mjs);
//   3. the client SDK bundles the server serves to the examples.
// Uses only Node's standard library, so it runs before node_modules exists.
// `--worker-only` does just step 2 (the root postinstall, for installs with scripts enabled).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const depsStamp = path.join(repoRoot, 'node_modules', '.livestage-deps');

function lockfileHash() {
  const lock = fs.readFileSync(path.join(repoRoot, 'package-lock.json'));
  return createHash('sha256').update(lock).digest('hex');
}

function ensureDependencies() {
  const wanted = lockfileHash();
  const current = fs.existsSync(depsStamp) ? fs.readFileSync(depsStamp, 'utf8') : '';
  if (current === wanted) return;
  console.log('[setup] installing npm dependencies (npm ci)');
  // Install scripts are off (.npmrc): mediasoup's would try to download its worker.
  execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  fs.writeFileSync(depsStamp, wanted);
}

async function main() {
  const started = Date.now();
  const workerOnly = process.argv.includes('--worker-only');
  if (!workerOnly) ensureDependencies();
  const { provisionWorker } = await import('./provision-worker.mjs');
  await provisionWorker();
  if (!workerOnly) {
    execFileSync(
      process.execPath,
      [path.join(repoRoot, 'client-sdk', 'build.mjs'), '--browser-only'],
      {
        cwd: repoRoot,
        stdio: 'inherit',
      },
    );
  }
  console.log(`[setup] ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error) => {
  console.error(`[setup] failed: ${error.message}`);
  process.exit(1);
});
