import type { Speaker } from '@livestage/protocol';

/** A level moving less than this (about 7 dB) since the last report is not worth a message. */
export const NOTICEABLE_LEVEL_CHANGE = 0.1;

/**
 * Worth telling the room: someone started or stopped speaking, the order changed, or a level
 * moved noticeably.
 */
export function speakersChanged(
  previous: readonly Speaker[],
  next: readonly Speaker[],
  levelStep = NOTICEABLE_LEVEL_CHANGE,
): boolean {
  if (previous.length !== next.length) return true;
  return next.some((speaker, index) => {
    const before = previous[index];
    return (
      before === undefined ||
      before.identity !== speaker.identity ||
      // Levels have two decimals: 0.5 - 0.4 must count as a step of 0.1.
      Math.abs(before.level - speaker.level) >= levelStep - 1e-9
    );
  });
}
