// The SDK's view of the signaling contract (@livestage/protocol). Types only, apart from the
// error codes and the interaction limits (zod-free modules), so the SDK bundle carries none of
// the server's schemas.
export type * from '@livestage/protocol';
export { ERROR_CODES } from '@livestage/protocol/errors';
export {
  DEFAULT_CHAT_HISTORY_SIZE,
  MAX_CHAT_TEXT_LENGTH,
  MAX_DATA_PAYLOAD_BYTES,
  MAX_DATA_TOPIC_LENGTH,
  REACTIONS,
} from '@livestage/protocol/limits';
