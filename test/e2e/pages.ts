import type { Browser, Page } from 'playwright-core';

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

/** The example page's LiveRoom, in page JavaScript (host or viewer page). */
export const PAGE_ROOM = `(window.livestageHost || window.livestageViewer).room`;

export interface HostAndViewers {
  host: Page;
  hostId: string;
  viewers: Page[];
  /** The viewers' identities, in the order of `viewers`. */
  viewerIds: string[];
}

/** A host page live in `room` and `count` viewer pages ("Viewer 1" …) watching it. */
export async function hostAndViewers(
  browser: Browser,
  serverUrl: string,
  room: string,
  count: number,
): Promise<HostAndViewers> {
  const host = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await goLive(host, serverUrl, room);
  const identityOf = (page: Page) =>
    inPage<string>(page, `() => ${PAGE_ROOM}.localParticipant.identity`);
  const hostId = await identityOf(host);
  const viewers: Page[] = [];
  const viewerIds: string[] = [];
  for (let i = 1; i <= count; i += 1) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await watch(page, serverUrl, room, `Viewer ${i}`);
    viewers.push(page);
    viewerIds.push(await identityOf(page));
  }
  return { host, hostId, viewers, viewerIds };
}

/** Runs `fn` (JavaScript source of a function, see above) in the page with one JSON argument. */
export async function inPage<T>(page: Page, fn: string, arg?: unknown): Promise<T> {
  return page.evaluate(`(${fn})(${JSON.stringify(arg ?? null)})`) as Promise<T>;
}

/**
 * Opens the viewer page for `room` with its stage tiles `tileWidth` px wide (16:9), so that the
 * SDK reports that small a viewport for the video, and presses Watch.
 */
export async function watchInSmallTile(
  page: Page,
  serverUrl: string,
  room: string,
  tileWidth = 160,
): Promise<void> {
  await page.goto(`${serverUrl}/viewer.html?${new URLSearchParams({ room })}`);
  await page.addStyleTag({
    content: `#stage { grid-template-columns: ${tileWidth}px !important; }`,
  });
  await page.click('#watch');
  await page.locator('#status', { hasText: /^watching/ }).waitFor({ timeout: 20_000 });
}

const HOST_CAMERA_SENDING = `async () => {
  const camera = window.livestageHost.camera;
  const bytesSentByRid = {};
  (await camera.producer.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') bytesSentByRid[s.rid || ''] = s.bytesSent;
  });
  const layer = camera.producer.maxSpatialLayer;
  return { maxSpatialLayer: layer === undefined ? null : layer, bytesSentByRid };
}`;

export interface CameraSending {
  /** The last layer limit the SDK applied (dynacast); null while it was never told any. */
  maxSpatialLayer: number | null;
  /** The browser's outbound-rtp bytesSent per simulcast rid. */
  bytesSentByRid: Record<string, number>;
}

/** What the host page's camera sends now, as its browser reports it. */
export async function hostCameraSending(page: Page): Promise<CameraSending> {
  return inPage<CameraSending>(page, HOST_CAMERA_SENDING);
}

const REMOTE_VIDEO_LAYER = `() => {
  const room = (window.livestageHost || window.livestageViewer).room;
  for (const participant of room.participants.values()) {
    for (const track of participant.tracks.values()) {
      if (track.kind === 'video') return track.currentLayer.spatial;
    }
  }
  return null;
}`;

/** The spatial layer the server forwards for the first remote video the page's SDK receives. */
export async function remoteVideoLayer(page: Page): Promise<number | null> {
  return inPage<number | null>(page, REMOTE_VIDEO_LAYER);
}

/** The "N watching" label: "N watching" on the viewer page, "N" on the host page. */
export async function viewerCountLabel(page: Page): Promise<string> {
  return (await page.locator('#viewer-count').textContent()) ?? '';
}
