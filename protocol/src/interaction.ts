import { z } from 'zod';
import {
  MAX_CHAT_TEXT_LENGTH,
  MAX_DATA_PAYLOAD_BYTES,
  MAX_DATA_TOPIC_LENGTH,
  REACTIONS,
  type Reaction,
} from './limits.js';
import { identitySchema } from './schemas.js';
import type { Role } from './types.js';

// Chat, reactions, data messages and active speakers: what people in a room say to each other
// besides audio and video.

export * from './limits.js';

/**
 * C0 and C1 control characters except tab, line feed and carriage return; the bidi overrides and
 * isolates (text that reorders what follows it on screen); the line and paragraph separators.
 */
const CONTROL_CHARACTERS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const chatText = z
  .string()
  .max(MAX_CHAT_TEXT_LENGTH, `at most ${MAX_CHAT_TEXT_LENGTH} characters`)
  .refine((text) => !CONTROL_CHARACTERS.test(text), 'no control characters')
  .refine((text) => text.trim().length > 0, 'empty message');
const messageId = z.string().min(1).max(64);

export const sendChatMessageSchema = z
  .object({
    text: chatText,
    /** A private message to this participant (and back to the sender); the room otherwise. */
    to: identitySchema.optional(),
  })
  .strict();
export const chatMessageRefSchema = z.object({ id: messageId }).strict();
/**
 * A host mutes (or unmutes) someone's chat: its chat messages, reactions and data messages are
 * refused with FORBIDDEN while muted. A host's own chat cannot be muted (FORBIDDEN).
 */
export const muteChatSchema = z.object({ identity: identitySchema, muted: z.boolean() }).strict();
/** Refused with FORBIDDEN while the sender's chat is muted (muteChat), like chat and data. */
export const sendReactionSchema = z.object({ emoji: z.enum(REACTIONS) }).strict();
/**
 * Refused with FORBIDDEN while the sender's chat is muted (muteChat); RATE_LIMITED past
 * DATA_PER_SECOND per sender or, for the audience, DATA_ROOM_PER_SECOND for the whole room.
 */
export const sendDataSchema = z
  .object({
    topic: z
      .string()
      .min(1)
      .max(MAX_DATA_TOPIC_LENGTH)
      .refine((topic) => !CONTROL_CHARACTERS.test(topic), 'no control characters'),
    /** Text (JSON, usually); at most MAX_DATA_PAYLOAD_BYTES once UTF-8 encoded. */
    payload: z
      .string()
      .refine(
        (payload) => utf8Length(payload) <= MAX_DATA_PAYLOAD_BYTES,
        `at most ${MAX_DATA_PAYLOAD_BYTES} bytes`,
      ),
    /** Only these participants; the whole room otherwise. */
    to: z.array(identitySchema).min(1).max(64).optional(),
  })
  .strict();

function utf8Length(text: string): number {
  // Cheap bound first: every UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= MAX_DATA_PAYLOAD_BYTES) return text.length;
  return new TextEncoder().encode(text).length;
}

export interface ChatMessage {
  /** Unique in the room; what deleteChatMessage names. */
  id: string;
  /** The sender's identity, display name and role when it sent the message. */
  from: string;
  name: string;
  role: Role;
  /** Plain text: render it as text, never as HTML. */
  text: string;
  /** Set on a private message: its recipient. Private messages are not kept in the history. */
  to?: string;
  /** When the server accepted it (ms since the epoch). */
  sentAt: number;
}

export interface ChatMessageDeleted {
  id: string;
  /** Identity of the host who deleted it, or 'admin' for the REST API. */
  by: string;
}

/** To the participant concerned and to hosts: its chat was muted or unmuted. */
export interface ChatMuted {
  identity: string;
  muted: boolean;
}

/** What the join reply says about chat. */
export interface ChatState {
  /** The room's last messages (CHAT_HISTORY_SIZE), oldest first. */
  history: ChatMessage[];
  /** How many messages the room keeps (CHAT_HISTORY_SIZE): a client's history holds as many. */
  historySize: number;
  /** Whether a host muted this participant's chat. */
  muted: boolean;
}

/** Reactions sent since the last `reactions` event (about one per second while any arrive). */
export interface ReactionCounts {
  counts: Partial<Record<Reaction, number>>;
  /** The length of the window the counts cover, in ms. */
  windowMs: number;
}

export interface Speaker {
  identity: string;
  /**
   * Loudness over the last interval, 0..1 (two decimals): linear in dBov from -70 dBov (0) to
   * full scale (1), so proportional to perceived loudness (usable as a meter as it is).
   */
  level: number;
}

/**
 * Who speaks now, loudest first (empty: nobody); sent when that changes, at most every
 * ACTIVE_SPEAKER_INTERVAL_MS. A speaker stays listed for 2.5 intervals after it was last heard.
 */
export interface ActiveSpeakers {
  speakers: Speaker[];
}

export interface DataMessage {
  from: string;
  topic: string;
  payload: string;
  /** Set when the message went to some participants only. */
  to?: string[];
}
