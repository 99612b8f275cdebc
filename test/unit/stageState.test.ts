import assert from 'node:assert/strict';
import { RemoteParticipant } from '../../client-sdk/src/participants.js';
import type { HandRequest, Role, StageInfo, StageMember, StageInvite } from '@livestage/protocol';
import { StageState } from '../../client-sdk/src/StageState.js';

const SELF = 'me';

function hand(identity: string, raisedAt: number, message = ''): HandRequest {
  return {
    identity,
    name: identity.toUpperCase(),
    message,
    raisedAt,
    expiresAt: raisedAt + 300_000,
  };
}

function member(identity: string, role: 'host' | 'guest'): StageMember {
  return { identity, name: identity, role, sources: ['microphone', 'camera'], mutedByHost: [] };
}

function stage(...members: StageMember[]): StageInfo {
  return { members, maxGuests: 6 };
}

function participant(identity: string, role: Role): RemoteParticipant {
  return new RemoteParticipant({ identity, name: identity, role, metadata: '', tracks: [] });
}

const identities = (hands: HandRequest[]) => hands.map((h) => h.identity);

describe('StageState (SDK)', function () {
  describe('hand queue', function () {
    it('lists hands oldest first, whatever order they arrived in', function () {
      const state = new StageState(stage(), [hand('c', 300), hand('a', 100)]);
      state.handRaised(hand('d', 50));
      state.handRaised(hand('b', 200));
      assert.deepEqual(identities(state.handQueue), ['d', 'a', 'b', 'c']);
    });

    it('a hand raised again replaces the first one and takes its new place', function () {
      const state = new StageState(stage(), [hand('a', 100), hand('b', 200)]);
      state.handRaised(hand('a', 300, 'again'));
      assert.deepEqual(identities(state.handQueue), ['b', 'a']);
      assert.equal(state.handQueue[1]?.message, 'again');
    });

    it('lowering removes only that hand; lowering an unknown one changes nothing', function () {
      const state = new StageState(stage(), [hand('a', 100), hand('b', 200), hand('c', 300)]);
      state.handLowered({ identity: 'b', reason: 'approved' });
      assert.deepEqual(identities(state.handQueue), ['a', 'c']);
      state.handLowered({ identity: 'zz', reason: 'lowered' });
      assert.deepEqual(identities(state.handQueue), ['a', 'c']);
      state.handLowered({ identity: 'a', reason: 'expired' });
      state.handLowered({ identity: 'c', reason: 'left' });
      assert.deepEqual(state.handQueue, []);
    });

    it('hands out a copy: changing the returned list does not change the queue', function () {
      const state = new StageState(stage(), [hand('a', 100)]);
      state.handQueue.pop();
      assert.deepEqual(identities(state.handQueue), ['a']);
    });
  });

  describe('stageChanged', function () {
    it('brings remote roles in line: audience → guest on stage, guest → audience off it', function () {
      const state = new StageState(stage(member('h', 'host'), member('g1', 'guest')), []);
      const people = {
        h: participant('h', 'host'),
        g1: participant('g1', 'guest'),
        v1: participant('v1', 'audience'),
        v2: participant('v2', 'audience'),
      };
      state.stageChanged(stage(member('h', 'host'), member('v1', 'guest')), Object.values(people));
      assert.deepEqual(Object.fromEntries(Object.entries(people).map(([id, p]) => [id, p.role])), {
        h: 'host',
        g1: 'audience',
        v1: 'guest',
        v2: 'audience',
      });
      assert.deepEqual(
        state.info.members.map((m) => m.identity),
        ['h', 'v1'],
      );
      assert.equal(state.member('v1')?.role, 'guest');
      assert.equal(state.member('g1'), undefined);
    });

    it('a host missing from the stage list stays a host (only guests step down)', function () {
      const state = new StageState(stage(member('h', 'host')), []);
      const host = participant('h', 'host');
      state.stageChanged(stage(), [host]);
      assert.equal(host.role, 'host');
    });
  });

  describe('invitations', function () {
    const invite: StageInvite = { from: 'h', sources: ['microphone'], expiresAt: 5000 };

    it('keeps the invitation received until this client’s own invitation ends', function () {
      const state = new StageState(stage(), []);
      assert.equal(state.invite, null);
      state.inviteReceived(invite);
      state.inviteEnded({ identity: 'someone-else', reason: 'declined' }, SELF);
      assert.deepEqual(state.invite, invite);
      state.inviteEnded({ identity: SELF, reason: 'expired' }, SELF);
      assert.equal(state.invite, null);
    });

    it('a newer invitation replaces the open one', function () {
      const state = new StageState(stage(), []);
      state.inviteReceived(invite);
      const newer: StageInvite = { from: 'h2', sources: ['camera'], expiresAt: 9000 };
      state.inviteReceived(newer);
      assert.deepEqual(state.invite, newer);
    });
  });
});
