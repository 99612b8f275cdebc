import type { Page } from 'playwright-core';

// In-page code is kept as plain JavaScript text: tsx's transform would otherwise inject helpers
// (such as __name) that do not exist inside the page.
const COUNT_FRAMES = `({ selector, frames, timeoutMs }) => new Promise((resolve, reject) => {
  const video = document.querySelector(selector);
  let seen = 0;
  const timer = setTimeout(() => reject(new Error('only ' + seen + ' frames decoded')), timeoutMs);
  const onFrame = () => {
    seen += 1;
    if (seen >= frames && video.videoWidth > 0) {
      clearTimeout(timer);
      resolve({ width: video.videoWidth, height: video.videoHeight, frames: seen });
    } else {
      video.requestVideoFrameCallback(onFrame);
    }
  };
  video.requestVideoFrameCallback(onFrame);
})`;

export interface DecodedFrames {
  width: number;
  height: number;
  frames: number;
}

/** Waits until the first <video> matching `selector` has decoded `frames` new frames. */
export async function waitForDecodedFrames(
  page: Page,
  selector: string,
  frames = 5,
  timeoutMs = 30_000,
): Promise<DecodedFrames> {
  await page.waitForSelector(selector, { timeout: timeoutMs });
  return page.evaluate(`(${COUNT_FRAMES})(${JSON.stringify({ selector, frames, timeoutMs })})`);
}

/** Opens the host page for `room`, presses Go live and waits until it is live. */
export async function goLive(page: Page, serverUrl: string, room: string): Promise<void> {
  await page.goto(`${serverUrl}/host.html?room=${room}`);
  await page.click('#go-live');
  await page.locator('#status', { hasText: /^live/ }).waitFor({ timeout: 20_000 });
}

/** Opens the viewer page for `room` (optionally with a display name), presses Watch and waits. */
export async function watch(
  page: Page,
  serverUrl: string,
  room: string,
  name?: string,
): Promise<void> {
  const query = new URLSearchParams({ room, ...(name ? { name } : {}) });
  await page.goto(`${serverUrl}/viewer.html?${query}`);
  await page.click('#watch');
  await page.locator('#status', { hasText: /^watching/ }).waitFor({ timeout: 20_000 });
}

/** Runs `fn` (JavaScript source of a function, see above) in the page with one JSON argument. */
export async function inPage<T>(page: Page, fn: string, arg?: unknown): Promise<T> {
  return page.evaluate(`(${fn})(${JSON.stringify(arg ?? null)})`) as Promise<T>;
}
