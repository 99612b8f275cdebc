// A browser bundle of another copy of the SDK's sources (for example the sources before a
// change, copied aside), so that one run can compare two SDKs viewer by viewer on the same
// machine load. Same options as client-sdk/build.mjs; packages come from this repository.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds `srcDir/index.ts` as an IIFE (global `Livestage`) and returns its source text. */
export async function buildSdkBundle(srcDir: string): Promise<string> {
  const entry = path.join(path.resolve(srcDir), 'index.ts');
  if (!fs.existsSync(entry)) throw new Error(`no SDK entry at ${entry}`);
  const outfile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'livestage-sdk-')), 'sdk.js');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'iife',
    globalName: 'Livestage',
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    logLevel: 'warning',
    nodePaths: [path.join(repoRoot, 'node_modules')],
  });
  const source = fs.readFileSync(outfile, 'utf8');
  fs.rmSync(path.dirname(outfile), { recursive: true, force: true });
  return source;
}

/** Page code that defines window.Livestage from a bundle's source (CSP-proof: no script tag). */
export function installBundle(source: string): string {
  return `(() => { ${source}\n; window.Livestage = Livestage; })()`;
}
