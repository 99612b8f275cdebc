import type { Redis } from 'ioredis';
import type { Grants } from '../auth/grants.js';
import {
  isInteractionMessage,
  type InteractionMessage,
  type InteractionSend,
} from '../interaction/messages.js';
import type { Logger } from '../logging/logger.js';
import { Participant } from '../rooms/Participant.js';
import type { Room, RoomClusterLink } from '../rooms/Room.js';
import { ClusterInteraction } from './ClusterInteraction.js';
import { memberStateOf, type MemberState } from './MemberState.js';
import type { NodeRegistry } from './NodeRegistry.js';
import type { Relay } from './Relay.js';
import { roomChannel, type BusMessage, type RoomBus } from './RoomBus.js';

/** Presence messages on a room's channel; the stage has its own (StageSync). */
export type PresenceMessage =
  { type: 'member'; member: MemberState } | { type: 'left'; identity: string; node: string };

/** Deletes the members still listed on a dead node (not those that moved on meanwhile). */
const PURGE_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if cjson.decode(entries[i + 1]).node == ARGV[1] then redis.call('HDEL', KEYS[1], entries[i]) end
end
return 1`;

const MAX_PULL_ATTEMPTS = 5;
const PULL_RETRY_MS = 500;

export const membersKey = (room: string) => `livestage:room:${room}:members`;

/** Deletes a member only if it is still the one on `node` (it did not move meanwhile). */
const LEAVE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
if cjson.decode(current).node ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1`;

export interface ClusterRoomDeps {
  redis: Redis;
  bus: RoomBus;
  registry: NodeRegistry;
  relay: Relay;
  nodeId: string;
  nodeUrl: string;
  /** A member of a dead node keeps its stage place this long, to come back through another. */
  reconnectGraceMs: number;
  log: Logger;
  /** Other messages on the room's channel (the stage's). */
  onOtherMessage: (message: BusMessage) => void;
}

/**
 * One room's membership across the cluster, on this node. The room's own participants are
 * written to a Redis hash (who is where, what they publish) and announced on the room's channel;
 * everyone else's appears here as a stand-in (`Participant.remote`) whose tracks are pulled from
 * their node (Relay) as soon as they are published, and closed when they are not any more.
 * Every message carries the member's whole state, so applying one is a reconcile: applying it
 * twice, or late, does no harm.
 */
export class ClusterRoom implements RoomClusterLink {
  readonly #room: Room;
  readonly #deps: ClusterRoomDeps;
  /** The latest state heard of each remote member. */
  readonly #members = new Map<string, MemberState>();
  /** Tracks being pulled, by track id. */
  readonly #pulling = new Set<string>();
  /** Timers to clear on close: delayed stage forgets and pull retries. */
  readonly #forgetTimers = new Set<NodeJS.Timeout>();
  /** Chat, reactions and data on the room's channel; the chat history and mutes in Redis. */
  readonly #interaction: ClusterInteraction;
  readonly sendInteraction: InteractionSend;
  /**
   * Set while start() reads the stored chat: interaction messages heard meanwhile wait here, to
   * be applied after the stored history and mutes (a deletion or unmute heard between the read
   * and the restore must not be undone by it).
   */
  #heldInteraction: InteractionMessage[] | undefined;
  #closed = false;

  constructor(room: Room, deps: ClusterRoomDeps) {
    this.#room = room;
    this.#deps = deps;
    this.#interaction = new ClusterInteraction({
      redis: deps.redis,
      bus: deps.bus,
      room: room.name,
      historySize: room.chat.historySize,
    });
    this.sendInteraction = this.#interaction.send;
  }

  /** Listens to the room's channel, then takes in everyone already there. */
  async start(): Promise<void> {
    const { bus, redis, registry } = this.#deps;
    const held: InteractionMessage[] = [];
    this.#heldInteraction = held;
    await bus.subscribe(this.#room.name, (message) => this.#onMessage(message));
    try {
      const [members, chat] = await Promise.all([
        redis.hgetall(membersKey(this.#room.name)),
        this.#interaction.load(),
        registry.heartbeat(),
      ]);
      this.#room.chat.restore(chat.history, chat.muted);
      this.#takeMembers(members);
    } finally {
      // Heard since subscribing, in the channel's order; a message also stored is not repeated.
      this.#heldInteraction = undefined;
      for (const message of held) this.#room.applyInteraction(message);
    }
  }

  #takeMembers(members: Record<string, string>): void {
    const { registry } = this.#deps;
    for (const raw of Object.values(members)) {
      const member = JSON.parse(raw) as MemberState;
      // Left behind by a node that died before anyone cleaned up after it.
      if (registry.isLive(member.node)) this.#applyMember(member);
    }
  }

  memberChanged(participant: Participant): void {
    if (participant.remote || participant.closed || !participant.joined) return;
    const member = memberStateOf(participant, this.#deps.nodeId, this.#deps.nodeUrl);
    const message: PresenceMessage = { type: 'member', member };
    const { redis, bus } = this.#deps;
    void redis
      .multi()
      .hset(membersKey(this.#room.name), participant.identity, JSON.stringify(member))
      .publish(roomChannel(this.#room.name), bus.envelope(message))
      .exec()
      .catch((error: unknown) =>
        participant.log.warn('could not tell the cluster', { error: String(error) }),
      );
  }

  memberLeft(participant: Participant): void {
    if (participant.remote) return;
    const message: PresenceMessage = {
      type: 'left',
      identity: participant.identity,
      node: this.#deps.nodeId,
    };
    const { redis, bus, nodeId } = this.#deps;
    void (
      redis.eval(
        LEAVE_SCRIPT,
        2,
        membersKey(this.#room.name),
        roomChannel(this.#room.name),
        participant.identity,
        nodeId,
        bus.envelope(message),
      ) as Promise<number>
    ).then(
      (left) => {
        // 0: it is a member through another node now (it moved): it keeps its stage place.
        if (left === 1) this.#room.stage.left(participant);
      },
      (error: unknown) => {
        participant.log.warn('could not tell the cluster of a leave', { error: String(error) });
        this.#room.stage.left(participant);
      },
    );
  }

  relayNeed(publisher: Participant, trackId: string, maxSpatialLayer: number): void {
    const producer = publisher.tracks.get(trackId)?.producer;
    if (producer) this.#deps.relay.sendNeed(producer, maxSpatialLayer);
  }

  /** Redis came back (maybe empty): write this node's members again. */
  republish(): void {
    for (const participant of this.#room.participants.values()) this.memberChanged(participant);
  }

  /** A node died: its members leave this room's view now, and the stage later. */
  nodeLost(node: string): void {
    const gone: Participant[] = [];
    for (const participant of [...this.#room.participants.values()]) {
      if (participant.remote === node) {
        gone.push(participant);
        this.#members.delete(participant.identity);
        this.#room.remove(participant);
      }
    }
    if (gone.length === 0) return;
    void this.#deps.redis
      .eval(PURGE_SCRIPT, 1, membersKey(this.#room.name), node)
      .catch(() => undefined);
    const timer = setTimeout(() => {
      this.#forgetTimers.delete(timer);
      if (this.#closed) return;
      void this.#deps.redis.hmget(membersKey(this.#room.name), ...gone.map((p) => p.identity)).then(
        (back) => {
          gone.forEach((participant, i) => {
            if (!back[i]) this.#room.stage.left(participant);
          });
        },
        () => undefined,
      );
    }, this.#deps.reconnectGraceMs);
    timer.unref();
    this.#forgetTimers.add(timer);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#forgetTimers) clearTimeout(timer);
    this.#deps.bus.unsubscribe(this.#room.name);
  }

  #onMessage(message: BusMessage): void {
    if (this.#closed) return;
    const body = message.body as PresenceMessage | { type: string };
    if (body.type === 'member') this.#applyMember((body as { member: MemberState }).member);
    else if (body.type === 'left') this.#applyLeft(body as { identity: string; node: string });
    else if (isInteractionMessage(body)) {
      if (this.#heldInteraction) this.#heldInteraction.push(body);
      else this.#room.applyInteraction(body);
    } else this.#deps.onOtherMessage(message);
  }

  #applyLeft({ identity, node }: { identity: string; node: string }): void {
    const participant = this.#room.participants.get(identity);
    if (participant?.remote !== node) return;
    this.#members.delete(identity);
    this.#room.remove(participant);
  }

  #applyMember(member: MemberState): void {
    if (member.node === this.#deps.nodeId || this.#closed) return;
    this.#members.set(member.identity, member);
    let participant = this.#room.participants.get(member.identity);
    let moved = false;
    if (participant && participant.remote !== member.node) {
      // It was here, or on another node, and is on `member.node` now.
      this.#room.removeQuietly(participant, {
        code: 'INVALID_STATE',
        message: 'joined from another connection',
      });
      participant = undefined;
      moved = true;
    }
    if (!participant) {
      const grants: Grants = { ...member.grants };
      participant = Participant.remoteOf(
        member.identity,
        grants,
        member.node,
        this.#deps.log.child({ participantId: member.identity, node: member.node }),
      );
      participant.seat = this.#room.stage.stage.seat(member.identity);
      this.#room.addRemote(participant, moved);
    }
    this.#reconcileTracks(participant, member);
  }

  #reconcileTracks(participant: Participant, member: MemberState): void {
    const wanted = new Map(member.tracks.map((track) => [track.id, track]));
    for (const [trackId, track] of [...participant.tracks]) {
      const info = wanted.get(trackId);
      if (!info) track.producer.close();
      else if (info.paused !== track.producer.paused) {
        void (info.paused ? track.producer.pause() : track.producer.resume()).catch(
          () => undefined,
        );
      }
    }
    for (const info of wanted.values()) {
      if (participant.tracks.has(info.id) || this.#pulling.has(info.id)) continue;
      void this.#pull(participant, info.id, info.source);
    }
  }

  async #pull(
    participant: Participant,
    trackId: string,
    source: MemberState['tracks'][number]['source'],
    attempt = 1,
  ): Promise<void> {
    const nodeUrl = this.#members.get(participant.identity)?.nodeUrl;
    if (!nodeUrl) return;
    this.#pulling.add(trackId);
    let failed = false;
    try {
      const producer = await this.#deps.relay.pull(this.#room, nodeUrl, trackId);
      if (!this.#stillWanted(participant, trackId)) {
        producer.close();
        return;
      }
      const paused = this.#members
        .get(participant.identity)
        ?.tracks.find((t) => t.id === trackId)?.paused;
      if (paused !== undefined && paused !== producer.paused) {
        await (paused ? producer.pause() : producer.resume());
      }
      await this.#room.publish(participant, producer, source);
    } catch (error) {
      failed = true;
      participant.log.warn('could not relay a track from its node', {
        trackId,
        attempt,
        error: String(error),
      });
    } finally {
      this.#pulling.delete(trackId);
    }
    // A relay refused or lost on the way (the node was busy, the track not listed there yet):
    // try again a few times while the track is still published.
    if (failed && attempt < MAX_PULL_ATTEMPTS) {
      const timer = setTimeout(() => {
        this.#forgetTimers.delete(timer);
        if (this.#stillWanted(participant, trackId) && !this.#pulling.has(trackId)) {
          void this.#pull(participant, trackId, source, attempt + 1);
        }
      }, PULL_RETRY_MS * attempt);
      timer.unref();
      this.#forgetTimers.add(timer);
    }
  }

  #stillWanted(participant: Participant, trackId: string): boolean {
    return (
      !this.#closed &&
      !participant.closed &&
      !participant.tracks.has(trackId) &&
      this.#room.participants.get(participant.identity) === participant &&
      (this.#members.get(participant.identity)?.tracks.some((t) => t.id === trackId) ?? false)
    );
  }
}
