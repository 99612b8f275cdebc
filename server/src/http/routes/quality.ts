import { Router } from 'express';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import type { QualityReporter } from '../../quality/QualityReporter.js';
import { requireApiKey } from '../basicAuth.js';

/** `GET /api/rooms/{room}/quality`: the room's latest quality report on this node. */
export function qualityRoutes(config: Config, quality: QualityReporter): Router {
  const router = Router();
  router.get('/api/rooms/:room/quality', requireApiKey(config.auth), (req, res) => {
    const report = quality.latest(String(req.params.room));
    if (!report) throw new AppError('NOT_FOUND', 'no quality report for this room (yet)');
    res.json(report);
  });
  return router;
}
