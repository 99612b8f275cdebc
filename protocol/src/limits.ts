// The interaction limits and the reaction set as plain values, without zod: the SDK's bundle
// needs REACTIONS at run time and must not pull in the schemas (interaction.ts re-exports these).

export const MAX_CHAT_TEXT_LENGTH = 2000;
export const MAX_DATA_PAYLOAD_BYTES = 16 * 1024;
export const MAX_DATA_TOPIC_LENGTH = 64;
/** How many recent messages a room keeps for newcomers unless configured (CHAT_HISTORY_SIZE). */
export const DEFAULT_CHAT_HISTORY_SIZE = 50;
/** The reactions a viewer may send; anything else is INVALID_PAYLOAD. */
export const REACTIONS = ['❤️', '👍', '👏', '😂', '😮', '😢', '🔥', '🎉'] as const;
export type Reaction = (typeof REACTIONS)[number];
