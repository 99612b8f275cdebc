// `npm run loadtest -- --help`: headless viewers (and a publisher) against any livestage.
import { HELP, parseCli, UsageError } from './args.js';
import { runLoadTest } from './loadTest.js';
import { formatSummary } from './report.js';

async function main(): Promise<number> {
  let cli;
  try {
    cli = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`loadtest: ${error.message}\n\n${HELP}`);
    return 2;
  }
  if (cli.help) {
    console.log(HELP);
    return 0;
  }
  // Ctrl-C ends the run early: the viewers leave and what was measured is printed. Twice: now.
  const stop = new AbortController();
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130);
    console.error('[loadtest] stopping (Ctrl-C again to quit at once)');
    stop.abort();
  });
  const summary = await runLoadTest({
    ...cli.loadTest,
    signal: stop.signal,
    log: (line) => console.error(`[loadtest] ${line}`),
  });
  console.log(cli.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
  return summary.viewersWithVideo === summary.viewers ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('loadtest failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
