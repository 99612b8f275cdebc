// Builds the SDK: dist/index.js (ESM, the npm dependencies external) + .d.ts for bundlers, and
// dist/browser/livestage.js (one file, global `Livestage`) that the server serves at /sdk/, and
// dist/browser/whip-client.js (global `WHIP`) for the WHIP example page.
// `--browser-only` skips the ESM build and the declarations (what the examples need).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const entry = path.join(here, 'src', 'index.ts');
const browserOnly = process.argv.includes('--browser-only');

await esbuild.build({
  entryPoints: [entry],
  outfile: path.join(here, 'dist', 'browser', 'livestage.js'),
  bundle: true,
  format: 'iife',
  globalName: 'Livestage',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});

// The examples' WHIP page: @eyevinn/whip-web-client ships no browser build (its dist imports
// `events` and `sdp-transform`), so it is bundled here as one file, global `WHIP`.
await esbuild.build({
  stdin: {
    contents: "export { WHIPClient } from '@eyevinn/whip-web-client';",
    resolveDir: here,
    sourcefile: 'whip-client-entry.js',
  },
  outfile: path.join(here, 'dist', 'browser', 'whip-client.js'),
  bundle: true,
  format: 'iife',
  globalName: 'WHIP',
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  logLevel: 'warning',
});

if (!browserOnly) {
  await esbuild.build({
    entryPoints: [entry],
    outdir: path.join(here, 'dist'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Only what package.json installs with the SDK. @livestage/protocol is bundled: its exports
    // are TypeScript sources, which nothing outside this monorepo could load at run time.
    external: ['mediasoup-client', 'socket.io-client'],
    target: ['es2022'],
    sourcemap: true,
    logLevel: 'warning',
  });
  execFileSync(
    process.execPath,
    [
      path.join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(here, 'tsconfig.build.json'),
    ],
    { stdio: 'inherit' },
  );
}
console.log(`[sdk] built${browserOnly ? ' (browser bundle)' : ''}`);
