// Pools the viewers of several join bench runs (their BENCH_JOIN_JSON lines) and prints the
// breakdown per SDK over all of them, e.g. two A/B runs of 20 viewers → 20 joins per SDK:
//
//   node --import tsx bench/lib/mergeJoinRuns.ts run1.txt run2.txt
import fs from 'node:fs';
import { printBreakdown, summarize, type Timeline } from './joinBreakdown.js';
import { fmt, printStats, stats } from './report.js';

interface ViewerJson {
  arm?: string;
  connectToFirstFrameMs?: number;
  timeline?: Timeline;
  error?: string;
}

function viewersOf(file: string): ViewerJson[] {
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('BENCH_JOIN_JSON '));
  if (!line) throw new Error(`${file}: no BENCH_JOIN_JSON line`);
  const json = JSON.parse(line.slice('BENCH_JOIN_JSON '.length)) as { perViewer: ViewerJson[] };
  return json.perViewer;
}

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: mergeJoinRuns.ts <bench output>...');
const byArm = new Map<string, ViewerJson[]>();
for (const viewer of files.flatMap(viewersOf)) {
  const arm = viewer.arm ?? 'current';
  byArm.set(arm, [...(byArm.get(arm) ?? []), viewer]);
}
const p50s = new Map<string, number>();
for (const [arm, viewers] of byArm) {
  const ok = viewers.filter((v) => v.timeline && v.connectToFirstFrameMs !== undefined);
  const firstFrame = stats(ok.map((v) => v.connectToFirstFrameMs ?? Number.NaN));
  p50s.set(arm, firstFrame.p50);
  console.log('');
  console.log(`${arm} SDK: ${ok.length}/${viewers.length} viewers ok over ${files.length} run(s)`);
  printStats([['connect → first frame', firstFrame]]);
  printBreakdown(summarize(ok.flatMap((v) => (v.timeline ? [v.timeline] : []))), ok.length);
}
const current = p50s.get('current');
const baseline = p50s.get('baseline');
if (current !== undefined && baseline !== undefined) {
  console.log('');
  console.log(
    `connect → first frame p50: current ${fmt(current)} ms, baseline ${fmt(baseline)} ms: ` +
      `${(current / baseline).toFixed(2)}× the baseline`,
  );
}
