import type { types } from 'mediasoup';
import type { Room } from '../rooms/Room.js';
import { MAX_TILES } from './layout.js';

export interface StageTrack {
  identity: string;
  producer: types.Producer;
}

/** What the composite shows and mixes now, and every stage track whose pause or resume changes it. */
export interface StagePlan {
  /** One per stage member with a live video (camera, else screen), hosts first, at most MAX_TILES. */
  videos: StageTrack[];
  /** Every live audio track of the stage members. */
  audios: StageTrack[];
  /** All the stage members' tracks, paused ones included. */
  watched: types.Producer[];
}

/**
 * The stage (hosts and guests) of `room` as the composite shows it. A paused producer is left
 * out: it sends nothing, and an input without packets stalls the whole ffmpeg graph.
 * Only participants connected to this node count (`!remote`): a stand-in's tracks are relayed
 * from its own node, which runs that room's egress for them (one egress node per room).
 */
export function stagePlan(room: Room): StagePlan {
  const members = [...room.participants.values()].filter(
    (participant) =>
      !participant.remote &&
      !participant.closed &&
      (participant.role === 'host' || participant.role === 'guest'),
  );
  // Hosts first; Map order keeps the rest in the order they came.
  members.sort((a, b) => Number(b.role === 'host') - Number(a.role === 'host'));
  const plan: StagePlan = { videos: [], audios: [], watched: [] };
  for (const member of members) {
    const tracks = [...member.tracks.values()].filter(({ producer }) => !producer.closed);
    plan.watched.push(...tracks.map(({ producer }) => producer));
    const live = tracks.filter(({ producer }) => !producer.paused);
    const video =
      live.find(({ producer, source }) => producer.kind === 'video' && source === 'camera') ??
      live.find(({ producer }) => producer.kind === 'video');
    if (video && plan.videos.length < MAX_TILES) {
      plan.videos.push({ identity: member.identity, producer: video.producer });
    }
    for (const { producer } of live) {
      if (producer.kind === 'audio') plan.audios.push({ identity: member.identity, producer });
    }
  }
  return plan;
}

/** Two plans with the same signature need no new ffmpeg. */
export function planSignature(plan: StagePlan): string {
  const ids = (tracks: StageTrack[]) => tracks.map(({ producer }) => producer.id).join(',');
  return `${ids(plan.videos)}|${ids(plan.audios)}`;
}
