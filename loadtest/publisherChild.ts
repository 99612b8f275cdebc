// Entry point of the publisher's own process (see publisherProcess.ts); speaks over IPC only.
import { sharedCertificate } from './certificate.js';
import { Publisher } from './publisher.js';
import type { PublisherCommand, PublisherReport } from './publisherProcess.js';

let publisher: Publisher | undefined;

function report(message: PublisherReport): void {
  process.send?.(message);
}

async function handle(command: PublisherCommand): Promise<void> {
  switch (command.type) {
    case 'start':
      publisher = await Publisher.start({
        ...command.options,
        certificate: await sharedCertificate(),
      });
      report({ type: 'stats', stats: publisher.stats });
      return;
    case 'stats':
      if (publisher) report({ type: 'stats', stats: publisher.stats });
      return;
    case 'stop':
      await publisher?.stop();
      if (publisher) report({ type: 'stopped', stats: publisher.stats });
      process.exit(0);
  }
}

process.on('message', (command: PublisherCommand) => {
  handle(command).catch((error: unknown) => {
    report({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});

// Ctrl-C reaches the whole process group: the parent decides when this process stops.
process.on('SIGINT', () => {});

// The parent went away without saying stop: do not leave ffmpeg running.
process.on('disconnect', () => {
  void (publisher?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
