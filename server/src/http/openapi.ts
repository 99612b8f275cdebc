import { z } from 'zod';
import type { RouteAuth, RouteSpec } from './routeTable.js';

type JsonSchema = Record<string, unknown>;

const SECURITY_SCHEMES: Record<Exclude<RouteAuth, 'none'>, JsonSchema> = {
  apiKey: {
    type: 'http',
    scheme: 'basic',
    description: 'user: the API key, password: the API secret',
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN, when it is set (otherwise the route is open)',
  },
  nodeToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'a token only the nodes of one cluster can make (node to node)',
  },
  accessToken: {
    type: 'http',
    scheme: 'bearer',
    description: "a participant's livestage access token (as for the SDK)",
  },
};

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().meta({ description: 'one of the protocol error codes' }),
    message: z.string(),
  }),
});

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) from a zod schema. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const generated = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as JsonSchema;
  // The dialect is the document's (OpenAPI 3.1 is 2020-12); it is not repeated per schema.
  delete generated.$schema;
  return generated;
}

function parameters(schema: z.ZodObject | undefined, location: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = field as z.ZodType;
    const optional = location === 'query' && fieldSchema.safeParse(undefined).success;
    return {
      name,
      in: location,
      required: !optional,
      schema: jsonSchema(fieldSchema, 'input'),
    };
  });
}

function operation(route: RouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(route.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? {
            content: {
              [response.contentType ?? 'application/json']: {
                schema: jsonSchema(response.schema, 'output'),
              },
            },
          }
        : {}),
    };
  }
  responses.default = {
    description: 'an error: 400 INVALID_PAYLOAD, 401, 404, 409, 429 RATE_LIMITED, …',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.auth === 'none' ? [] : [{ [route.auth]: [] }],
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

/** e.g. `delete /api/rooms/{room}/participants/{identity}` → `deleteRoomsRoomParticipantsIdentity` */
function operationId(route: RouteSpec): string {
  const words = route.path
    .split('/')
    .filter((part) => part !== '' && part !== 'api')
    .map((part) => part.replace(/[{}]/g, ''))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1));
  return `${route.method}${words.join('')}`;
}

/** The OpenAPI 3.1 document of every route in `routes`, from their own schemas. */
export function openApiDocument(routes: readonly RouteSpec[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'livestage',
      version,
      description:
        'The HTTP API of a livestage node: tokens, rooms and their participants (admin), ' +
        'health and metrics. Errors answer `{ error: { code, message } }`.',
    },
    paths,
    components: {
      securitySchemes: SECURITY_SCHEMES,
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
    },
  };
}
