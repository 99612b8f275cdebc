import { z } from 'zod';

export const ROLES = ['host', 'guest', 'audience'] as const;

/** What a token allows; one line each. */
export const grantsSchema = z
  .object({
    /** The one room this token may join. */
    room: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\w.-]+$/),
    /** host: runs the room and is always on stage; guest: on stage; audience: watches. */
    role: z.enum(ROLES),
    /** May send camera, microphone or screen tracks. */
    canPublish: z.boolean(),
    /** May receive other participants' tracks. */
    canSubscribe: z.boolean(),
    /** May send chat messages. */
    canChat: z.boolean(),
    /** Not listed to other participants (recorders, monitors). */
    hidden: z.boolean().optional(),
    /** Display name shown to others. */
    name: z.string().max(128).optional(),
    /** Free-form application data shown to others. */
    metadata: z.string().max(4096).optional(),
  })
  .strict();

export type Grants = z.infer<typeof grantsSchema>;
export type Role = Grants['role'];

/** The grants a role gets unless the token minter says otherwise. */
export function defaultGrants(room: string, role: Role): Grants {
  return {
    room,
    role,
    canPublish: role !== 'audience',
    canSubscribe: true,
    canChat: true,
  };
}
