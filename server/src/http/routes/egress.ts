import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Router, type Response } from 'express';
import { z } from 'zod';
import { identitySchema } from '../../auth/tokens.js';
import { roomFolder, EGRESS_TYPES } from '../../egress/EgressInfo.js';
import type { EgressService } from '../../egress/EgressService.js';
import { AppError } from '../../errors.js';
import { defineRoute, type RouteSpec } from '../routeTable.js';
import { roomNameSchema, roomParams } from '../schemas.js';

export const egressInfoSchema = z.object({
  id: z.string(),
  room: z.string(),
  type: z.enum(EGRESS_TYPES),
  status: z.enum(['starting', 'active', 'ending', 'complete', 'failed']),
  startedAt: z.number().meta({ description: 'ms since the epoch' }),
  endedAt: z.number().optional(),
  playlistUrl: z.string().optional().meta({ description: 'hls: /hls/{room}/index.m3u8' }),
  file: z.string().optional().meta({ description: "record: the MP4's path on the server" }),
  durationSeconds: z.number().optional().meta({ description: 'record, once ended' }),
  layout: z.object({ videos: z.array(z.string()), audios: z.number().int() }),
  restarts: z.number().int(),
  error: z.string().optional(),
});

const egressParams = z.object({ room: roomNameSchema, id: z.string().min(1).max(64) });
const snapshotParams = z.object({ room: roomNameSchema, identity: identitySchema });

/** HLS and recording egresses of a room's stage, and its participants' snapshots (admin API). */
export function egressRoutes({ egress }: { egress: EgressService }): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/rooms/{room}/egress',
      tag: 'egress',
      auth: 'apiKey',
      summary: "Starts an HLS egress (default) or a recording of the room's stage, composited",
      description:
        'The stage (host and guests) in a grid that re-lays itself as the stage changes, every ' +
        "stage member's audio mixed; H.264 + AAC. hls: a live playlist at /hls/{room}/index.m3u8; " +
        'record: an MP4 in RECORDINGS_DIR, finalised when stopped or when the room ends. One of ' +
        'each type per room; at most EGRESS_MAX on this node (503).',
      params: roomParams,
      body: z.object({ type: z.enum(EGRESS_TYPES).default('hls') }).strict(),
      responses: {
        201: { description: 'started', schema: egressInfoSchema },
        404: { description: 'no such room' },
        409: { description: 'the room already has an egress of this type' },
        503: { description: 'this node runs as many egresses as it may' },
      },
      handle: ({ params, body }) => egress.start(params.room, body.type),
    }),
    defineRoute({
      method: 'get',
      path: '/api/rooms/{room}/egress',
      tag: 'egress',
      auth: 'apiKey',
      summary: "The room's running egresses",
      params: roomParams,
      responses: {
        200: {
          description: 'the egresses',
          schema: z.object({ egresses: z.array(egressInfoSchema) }),
        },
        404: { description: 'no such room' },
      },
      handle: ({ params }) => ({ egresses: egress.list(params.room) }),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/rooms/{room}/egress/{id}',
      tag: 'egress',
      auth: 'apiKey',
      summary: 'Stops an egress; answers once it is finalised (a recording: its file and duration)',
      params: egressParams,
      responses: {
        200: { description: 'its final state', schema: egressInfoSchema },
        404: { description: 'no such room or egress' },
      },
      handle: ({ params }) => egress.stop(params.room, params.id),
    }),
    defineRoute({
      method: 'get',
      path: '/api/rooms/{room}/snapshots/{identity}.jpg',
      tag: 'egress',
      auth: 'apiKey',
      summary: "The participant's latest snapshot (SNAPSHOT_INTERVAL_MS), a JPEG of its video",
      params: snapshotParams,
      responses: {
        200: {
          description: 'the JPEG',
          contentType: 'image/jpeg',
          schema: z.string().meta({ format: 'binary' }),
        },
        404: { description: 'no such room, or no snapshot of this participant' },
      },
      handle: async ({ params, res }) => {
        if (!egress.snapshots.enabled) throw new AppError('NOT_FOUND', 'snapshots are off');
        egress.list(params.room); // NOT_FOUND for a room that is not open
        const jpeg = await readFile(egress.snapshots.file(params.room, params.identity)).catch(
          () => {
            throw new AppError('NOT_FOUND', 'no snapshot of this participant');
          },
        );
        res.status(200).type('image/jpeg').set('Cache-Control', 'no-cache').send(jpeg);
      },
    }),
  ];
}

const HLS_FILE = /^[\w-]+\.(m3u8|ts)$/;
const HLS_TYPES = { m3u8: 'application/vnd.apple.mpegurl', ts: 'video/mp2t' } as const;

/**
 * `/hls/{room}/{file}`: the HLS folder as static files, for anyone (players, a CDN pulling from
 * here), from any origin. The playlist changes every segment: never cached.
 */
export function hlsRoutes(hlsDir: string): Router {
  const router = Router();
  router.get('/hls/:room/:file', (req, res: Response, next) => {
    const { room, file } = req.params;
    const match = HLS_FILE.exec(file);
    if (!match || !roomNameSchema.safeParse(room).success) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'not found' } });
      return;
    }
    const extension = match[1] as keyof typeof HLS_TYPES;
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': extension === 'm3u8' ? 'no-cache' : 'public, max-age=60',
      'Content-Type': HLS_TYPES[extension],
    });
    res.sendFile(path.join(hlsDir, roomFolder(room), file), { headers: {} }, (error) => {
      if (!error) return;
      if (res.headersSent) {
        next(error);
        return;
      }
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'not found' } });
    });
  });
  return router;
}
