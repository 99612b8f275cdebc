// Provisions the mediasoup-worker binary for the pinned mediasoup version, in this order:
//   1. MEDIASOUP_WORKER_BIN, when it names a binary that runs here;
//   2. a binary already built for this version and architecture in the cache
//      (LIVESTAGE_CACHE_DIR, default ~/.cache/livestage);
//   3. a binary already inside node_modules/mediasoup (mediasoup's own postinstall ran);
//   4. mediasoup's prebuilt download (machines with internet);
//   5. a build from node_modules/mediasoup/worker against the system libraries, with local
//      meson subprojects (scripts/mediasoup-worker/subprojects) standing in for the wraps that
//      would download sources. The result goes to the cache.
// The chosen binary is copied to mediasoup's default location, so `import 'mediasoup'` finds it
// without any environment variable.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const shimDir = path.join(here, 'mediasoup-worker', 'subprojects');

// mediasoup-worker exits with 41 when started without MEDIASOUP_VERSION: proof that it loads
// (shared libraries present, right architecture) without starting anything.
const WORKER_SELF_TEST_EXIT_CODE = 41;

const SYSTEM_LIBRARIES = [
  { pkgConfig: 'libuv', apt: 'libuv1-dev' },
  { pkgConfig: 'openssl', apt: 'libssl-dev' },
  { pkgConfig: 'libsrtp2', apt: 'libsrtp2-dev' },
  { pkgConfig: 'usrsctp', apt: 'libusrsctp-dev' },
  { pkgConfig: 'absl_flat_hash_map', apt: 'libabsl-dev' },
  { pkgConfig: 'nlohmann_json', apt: 'nlohmann-json3-dev' },
];
const BUILD_COMMANDS = [
  { command: 'pkg-config', apt: 'pkg-config' },
  { command: 'ninja', apt: 'ninja-build' },
  { command: 'c++', apt: 'g++' },
];
const MIN_MESON = [1, 1, 0];

function log(message) {
  console.log(`[worker] ${message}`);
}

function mediasoupDir() {
  return path.join(repoRoot, 'node_modules', 'mediasoup');
}

function mediasoupVersion() {
  return JSON.parse(fs.readFileSync(path.join(mediasoupDir(), 'package.json'), 'utf8')).version;
}

export function cacheDir() {
  return (
    process.env.LIVESTAGE_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'livestage')
  );
}

function shimsFingerprint() {
  const hash = createHash('sha256');
  for (const name of fs.readdirSync(shimDir).sort()) {
    for (const file of fs.readdirSync(path.join(shimDir, name)).sort()) {
      hash.update(`${name}/${file}\0`);
      hash.update(fs.readFileSync(path.join(shimDir, name, file)));
    }
  }
  return hash.digest('hex').slice(0, 12);
}

function cachedBinaryPath(version) {
  return path.join(cacheDir(), `mediasoup-worker-${version}-${os.platform()}-${os.arch()}`);
}

function defaultBinaryPath() {
  return path.join(mediasoupDir(), 'worker', 'out', 'Release', 'mediasoup-worker');
}

export function workerRuns(binary) {
  if (!binary || !fs.existsSync(binary)) return false;
  const result = spawnSync(binary, [], { env: {}, stdio: 'ignore', timeout: 10_000 });
  return result.status === WORKER_SELF_TEST_EXIT_CODE;
}

function sameFile(a, b) {
  if (!fs.existsSync(a) || !fs.existsSync(b)) return false;
  const sa = fs.statSync(a);
  const sb = fs.statSync(b);
  return sa.size === sb.size && sa.mtimeMs === sb.mtimeMs;
}

function copyExecutable(from, to) {
  if (path.resolve(from) === path.resolve(to) || sameFile(from, to)) return;
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  fs.copyFileSync(from, tmp);
  fs.chmodSync(tmp, 0o755);
  const { atime, mtime } = fs.statSync(from);
  fs.utimesSync(tmp, atime, mtime);
  fs.renameSync(tmp, to);
}

async function downloadPrebuilt(version, destination) {
  if (process.env.LIVESTAGE_SKIP_WORKER_DOWNLOAD === '1') return false;
  const tarball = `mediasoup-worker-${version}-${os.platform()}-${os.arch()}.tgz`;
  const base =
    process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL ??
    'https://github.com/versatica/mediasoup/releases/download';
  const url = `${base}/${version}/${tarball}`;
  log(`trying mediasoup's prebuilt worker: ${url}`);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    if (!response.ok) {
      log(`no prebuilt worker (${response.status})`);
      return false;
    }
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'livestage-prebuilt-'));
    const tgz = path.join(workDir, tarball);
    fs.writeFileSync(tgz, Buffer.from(await response.arrayBuffer()));
    execFileSync('tar', ['-xzf', tgz, '-C', workDir]);
    const extracted = path.join(workDir, 'mediasoup-worker');
    if (!workerRuns(extracted)) {
      log('the prebuilt worker does not run on this machine');
      return false;
    }
    copyExecutable(extracted, destination);
    fs.rmSync(workDir, { recursive: true, force: true });
    return true;
  } catch (error) {
    log(`prebuilt download unavailable (${error.cause?.code ?? error.message})`);
    return false;
  }
}

function commandExists(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function mesonVersion(meson) {
  const result = spawnSync(meson, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  return result.stdout.trim().split('.').map(Number);
}

function versionAtLeast(actual, wanted) {
  for (let i = 0; i < wanted.length; i += 1) {
    if ((actual[i] ?? 0) !== wanted[i]) return (actual[i] ?? 0) > wanted[i];
  }
  return true;
}

function missingSystemPackages() {
  const missing = BUILD_COMMANDS.filter(({ command }) => !commandExists(command)).map(
    ({ apt }) => apt,
  );
  if (commandExists('pkg-config')) {
    for (const lib of SYSTEM_LIBRARIES) {
      const found = spawnSync('pkg-config', ['--exists', lib.pkgConfig]).status === 0;
      if (!found) missing.push(lib.apt);
    }
  } else {
    missing.push(...SYSTEM_LIBRARIES.map(({ apt }) => apt));
  }
  return [...new Set(missing)];
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function ensureSystemPackages() {
  const missing = missingSystemPackages();
  if (missing.length === 0) return;
  const aptCommand = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (!isRoot() || !commandExists('apt-get')) {
    throw new Error(
      `building mediasoup-worker needs these system packages: ${missing.join(', ')}\n` +
        `  install them with: sudo sh -c '${aptCommand}'`,
    );
  }
  log(`installing system packages: ${missing.join(' ')}`);
  execFileSync('sh', ['-c', aptCommand], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function findMeson() {
  const candidates = [process.env.MESON, 'meson', path.join(os.homedir(), '.local/bin/meson')];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const version = mesonVersion(candidate);
    if (version && versionAtLeast(version, MIN_MESON)) return candidate;
  }
  return null;
}

function ensureMeson() {
  const found = findMeson();
  if (found) return found;
  log(`meson >= ${MIN_MESON.join('.')} not found; installing it with pip`);
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--user', 'meson>=1.1'], {
    stdio: 'inherit',
  });
  const installed = pip.status === 0 ? findMeson() : null;
  if (!installed) {
    throw new Error(
      `building mediasoup-worker needs meson >= ${MIN_MESON.join('.')} ` +
        `(Debian's is older): run 'python3 -m pip install meson' or set MESON=/path/to/meson`,
    );
  }
  return installed;
}

function buildFromSources(version, destination) {
  ensureSystemPackages();
  const meson = ensureMeson();
  const buildRoot = path.join(cacheDir(), `build-${version}-${shimsFingerprint()}`);
  const sourceDir = path.join(buildRoot, 'worker');
  const buildDir = path.join(buildRoot, 'build');
  if (!fs.existsSync(path.join(buildDir, 'build.ninja'))) {
    fs.rmSync(buildRoot, { recursive: true, force: true });
    fs.mkdirSync(buildRoot, { recursive: true });
    fs.cpSync(path.join(mediasoupDir(), 'worker'), sourceDir, {
      recursive: true,
      filter: (src) => !src.includes(`${path.sep}out${path.sep}`),
    });
    const subprojects = path.join(sourceDir, 'subprojects');
    fs.rmSync(subprojects, { recursive: true, force: true });
    fs.cpSync(shimDir, subprojects, { recursive: true });
    log(`configuring with ${meson} in ${buildRoot}`);
    execFileSync(
      meson,
      [
        'setup',
        '--buildtype',
        'release',
        '-Db_ndebug=true',
        '-Db_pie=true',
        '-Db_staticpic=true',
        buildDir,
        sourceDir,
      ],
      { stdio: 'inherit' },
    );
  }
  const started = Date.now();
  log(`building mediasoup-worker ${version} (a few minutes on 2 cores)`);
  execFileSync('ninja', ['-C', buildDir, 'mediasoup-worker'], { stdio: 'inherit' });
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const built = path.join(buildDir, 'mediasoup-worker');
  if (!workerRuns(built)) throw new Error(`the freshly built ${built} does not run`);
  copyExecutable(built, destination);
  fs.rmSync(buildRoot, { recursive: true, force: true });
}

/** Makes sure mediasoup's default worker path holds a binary that runs; returns its path. */
export async function provisionWorker() {
  const version = mediasoupVersion();
  const target = defaultBinaryPath();
  const cached = cachedBinaryPath(version);

  const fromEnv = process.env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    if (!workerRuns(fromEnv)) {
      throw new Error(`MEDIASOUP_WORKER_BIN=${fromEnv} is not a mediasoup-worker that runs here`);
    }
    log(`using MEDIASOUP_WORKER_BIN=${fromEnv}`);
    return fromEnv;
  }
  if (workerRuns(cached)) {
    copyExecutable(cached, target);
    log(`using cached ${cached}`);
    return target;
  }
  if (workerRuns(target)) {
    copyExecutable(target, cached);
    log(`cached the worker already in node_modules as ${cached}`);
    return target;
  }
  fs.mkdirSync(cacheDir(), { recursive: true });
  if (!(await downloadPrebuilt(version, cached))) {
    buildFromSources(version, cached);
  }
  copyExecutable(cached, target);
  log(`worker ready: ${target}`);
  return target;
}
