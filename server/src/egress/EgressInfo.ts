export const EGRESS_TYPES = ['hls', 'record'] as const;
export type EgressType = (typeof EGRESS_TYPES)[number];

/** starting: no output yet; active: ffmpeg writes; ending: being finalised; then complete or failed. */
export type EgressStatus = 'starting' | 'active' | 'ending' | 'complete' | 'failed';

export interface EgressInfo {
  id: string;
  room: string;
  type: EgressType;
  status: EgressStatus;
  /** ms since the epoch. */
  startedAt: number;
  endedAt?: number;
  /** hls: the playlist's path on this server (`/hls/{room}/index.m3u8`). */
  playlistUrl?: string;
  /** record: the MP4's path on this server's disk (final once the egress has ended). */
  file?: string;
  /** record, once ended: the MP4's length (s). */
  durationSeconds?: number;
  /** The identities shown in the picture now, in grid order, and the audio tracks mixed. */
  layout: { videos: string[]; audios: number };
  /** ffmpeg restarts so far (re-layouts and crashes). */
  restarts: number;
  /** Why it failed or ended early. */
  error?: string;
}

/**
 * A room's folder name for HLS and snapshots: room names may be `.` or `..` (`[\w.-]+`), which
 * must not name a parent folder; `%` cannot be in a room name, so the mapping is one to one.
 */
export function roomFolder(room: string): string {
  return room.startsWith('.') ? `%2E${room.slice(1)}` : room;
}
