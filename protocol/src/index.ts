// @livestage/protocol: the signaling contract between the server and the SDK.
export * from './errors.js';
export * from './types.js';
export * from './interaction.js';
export * from './requests.js';
export type * from './events.js';
export * from './schemas.js';
