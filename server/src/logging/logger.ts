import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(options: { level: string; format: 'json' | 'pretty' }): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const context = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${context}`;
          }),
        );
  return winston.createLogger({
    level: options.level,
    format,
    transports: [new winston.transports.Console()],
  });
}
