// Mints an access token from the command line with the configured API key pair:
//   node --import tsx scripts/token.ts --room demo --identity alice --role host [--name Alice] [--ttl 3600]
// The token alone goes to stdout; errors go to stderr (exit 2: usage or no keys, 78: bad config).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { defaultGrants, grantsSchema, ROLES } from '../server/src/auth/grants.js';
import { identitySchema, mintToken } from '../server/src/auth/tokens.js';
import { ConfigError, loadConfig } from '../server/src/config/config.js';

const USAGE =
  'usage: token.ts --room <room> --identity <identity> --role host|guest|audience [--name <name>] [--ttl <seconds>]';

const argsSchema = z.object({
  room: grantsSchema.shape.room,
  identity: identitySchema,
  role: z.enum(ROLES),
  name: grantsSchema.shape.name,
  ttl: z.coerce.number().int().min(1).max(86_400).optional(),
});

function fail(message: string, exitCode: number): never {
  console.error(`token: ${message}`);
  process.exit(exitCode);
}

function readArgs(): z.infer<typeof argsSchema> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: {
        room: { type: 'string' },
        identity: { type: 'string' },
        role: { type: 'string' },
        name: { type: 'string' },
        ttl: { type: 'string' },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`, 2);
  }
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `--${issue.path.join('.')}: ${issue.message}`,
    );
    fail(`${problems.join('; ')}\n${USAGE}`, 2);
  }
  return parsed.data;
}

const args = readArgs();
let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 78);
  throw error;
}
if (config.auth.generatedKeys) {
  fail(
    'LIVESTAGE_API_KEY and LIVESTAGE_API_SECRET are not set: a token minted with a throwaway key ' +
      'is useless, since no server would accept it. Set them to the server key pair.',
    2,
  );
}
const grants = {
  ...defaultGrants(args.room, args.role),
  ...(args.name !== undefined ? { name: args.name } : {}),
};
const token = mintToken(config.auth, {
  identity: args.identity,
  grants,
  ttlSeconds: args.ttl ?? config.auth.defaultTtlSeconds,
});
process.stdout.write(`${token}\n`);
