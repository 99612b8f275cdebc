// The SDK's view of the signaling contract (@livestage/protocol). Types only, apart from the
// error codes, so the SDK bundle carries none of the server's schemas.
export type * from '@livestage/protocol';
export { ERROR_CODES } from '@livestage/protocol/errors';
