// Composition root: read config, start the server, handle signals. Nothing else lives here.
import { ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './logging/logger.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`livestage: ${error.message}`);
      process.exit(78);
    }
    throw error;
  }
  const log = createLogger(config.log);
  if (config.auth.generatedKeys) {
    log.warn('no LIVESTAGE_API_KEY/LIVESTAGE_API_SECRET set: using a throwaway dev key pair');
  }
  const server = await startServer(config, log);
  log.info(`livestage listening on ${server.url}`, { workers: server.pool.workers.length });

  // SIGTERM drains (the orchestrator's polite stop); SIGINT (Ctrl-C) closes at once; a second
  // signal of either kind exits immediately.
  let stopping = false;
  const stop = (signal: string, drain: boolean) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: ${drain ? 'draining, then shutting down' : 'shutting down'}`);
    (drain ? server.drain(config.drainTimeoutMs) : server.close()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT', false));
  process.on('SIGTERM', () => stop('SIGTERM', true));
}

main().catch((error: unknown) => {
  console.error('livestage failed to start:', error);
  process.exit(1);
});
