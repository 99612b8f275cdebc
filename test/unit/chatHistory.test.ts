import assert from 'node:assert/strict';
import type { ChatMessage } from '@livestage/protocol';
import { ChatHistory } from '../../server/src/interaction/ChatHistory.js';

function message(id: string, to?: string): ChatMessage {
  return {
    id,
    from: 'alice',
    name: 'Alice',
    role: 'audience',
    text: `text ${id}`,
    sentAt: 0,
    ...(to ? { to } : {}),
  };
}

const ids = (history: ChatHistory) => history.list().map((m) => m.id);

describe('ChatHistory (the ring newcomers get)', function () {
  it('keeps the last `size` room messages, oldest first', function () {
    const history = new ChatHistory(3);
    for (let i = 1; i <= 5; i += 1) history.add(message(`m${i}`));
    assert.deepEqual(ids(history), ['m3', 'm4', 'm5']);
  });

  it('keeps no private message, but knows its id', function () {
    const history = new ChatHistory(3);
    history.add(message('room'));
    history.add(message('secret', 'bob'));
    assert.deepEqual(ids(history), ['room']);
    assert.equal(history.knows('secret'), true);
  });

  it('ignores a message it already has (the same message heard twice)', function () {
    const history = new ChatHistory(3);
    history.add(message('a'));
    history.add(message('a'));
    assert.deepEqual(ids(history), ['a']);
  });

  it('removes a deleted message; an unknown id is reported', function () {
    const history = new ChatHistory(3);
    history.add(message('a'));
    history.add(message('b'));
    assert.equal(history.remove('a'), true);
    assert.deepEqual(ids(history), ['b']);
    assert.equal(history.remove('nope'), false);
  });

  it('a deleted message cannot be deleted again, nor come back', function () {
    const history = new ChatHistory(3);
    history.add(message('a'));
    history.add(message('b'));
    assert.equal(history.isDeletable('a'), true);
    assert.equal(history.remove('a'), true);
    assert.equal(history.isDeletable('a'), false);
    assert.equal(history.remove('a'), false, 'the second deletion is NOT_FOUND');
    assert.equal(history.knows('a'), true, 'still known: heard again, it is ignored');
    history.add(message('a'));
    history.restore([message('a'), message('b')]);
    assert.deepEqual(ids(history), ['b']);
  });

  it('still knows the ids of messages pushed out of the ring (a host may delete them)', function () {
    const history = new ChatHistory(2);
    for (let i = 1; i <= 5; i += 1) history.add(message(`m${i}`));
    assert.equal(history.knows('m1'), true);
    assert.equal(history.remove('m1'), true);
    assert.deepEqual(ids(history), ['m4', 'm5']);
  });

  it('returns a copy', function () {
    const history = new ChatHistory(2);
    history.add(message('a'));
    history.list().pop();
    assert.deepEqual(ids(history), ['a']);
  });

  it('size 0 keeps nothing', function () {
    const history = new ChatHistory(0);
    history.add(message('a'));
    assert.deepEqual(ids(history), []);
  });

  it('restores a stored history under what it heard since, without duplicates', function () {
    const history = new ChatHistory(4);
    history.add(message('c'));
    history.add(message('d'));
    history.restore([message('a'), message('b'), message('c')]);
    assert.deepEqual(ids(history), ['a', 'b', 'c', 'd']);
    history.restore([message('x'), message('y'), message('z')]);
    assert.equal(history.list().length, 4);
    assert.equal(history.knows('x'), true);
  });
});
