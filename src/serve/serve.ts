import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkHealthOptions, healthHandler, type HealthOptions } from './health.js';
import type { MetricsRegistry } from './metrics.js';
import type { LeadershipView } from './view.js';

/** Options of serveHandler(). */
export interface ServeOptions {
  /** Serve /metrics from this registry (e.g. `(await ballotMetrics(elector)).register`); else /metrics is 404. */
  metrics?: MetricsRegistry;
  /** A leader with less than this many ms left before its deadline is unhealthy (default TTL/3). */
  minDeadlineLeftMs?: number;
}

/** A node:http handler that may hand requests it does not serve to `next` (Express-style). */
export type ServeHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

/**
 * One handler for an operations port: GET/HEAD /healthz (503 for a wedged leader), /readyz (200
 * only for a healthy leader) and /metrics (Prometheus text). Other paths go to `next`, else 404.
 */
export function serveHandler(view: LeadershipView, options: ServeOptions = {}): ServeHandler {
  const health: HealthOptions = { mode: 'health' };
  if (options.minDeadlineLeftMs !== undefined) health.minDeadlineLeftMs = options.minDeadlineLeftMs;
  checkHealthOptions(health);
  const healthz = healthHandler(view, health);
  const readyz = healthHandler(view, { ...health, mode: 'ready' });
  const registry = options.metrics;
  return (req, res, next) => {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/healthz' || path === '/readyz' || (path === '/metrics' && registry);
    if (!known) {
      if (next) return next();
      return text(
        res,
        404,
        `not found: ${path ?? ''} (try /healthz, /readyz${registry ? ', /metrics' : ''})\n`,
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return text(res, 405, 'use GET or HEAD\n');
    }
    if (path === '/healthz') return healthz(req, res);
    if (path === '/readyz') return readyz(req, res);
    registry!.metrics().then(
      (body) => {
        res.writeHead(200, {
          'content-type': registry!.contentType,
          'content-length': Buffer.byteLength(body),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => text(res, 500, `metrics failed: ${(err as Error).message}\n`),
    );
  };
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
