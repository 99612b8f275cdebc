// CPU time of other processes on this machine, from Linux's /proc (nothing elsewhere).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  name: string;
  parentPid: number;
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
}

/** undefined when the process is gone or there is no /proc. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (name) state ppid …": the name may hold spaces and parentheses, so split after the last ')'.
  const close = text.lastIndexOf(')');
  const name = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // After the name: [0] state, [1] ppid, … [11] utime, [12] stime (stat fields 3, 4, 14, 15).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { name, parentPid: Number(fields[1]), cpuSeconds: (utime + stime) / clockTicks() };
}

/** Pids of every process whose name starts with `prefix` (names are cut to 15 characters). */
export function findProcesses(prefix: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const wanted = prefix.slice(0, 15);
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => readProcStat(pid)?.name.startsWith(wanted));
}
