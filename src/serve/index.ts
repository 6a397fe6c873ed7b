/** Serving behind an election: health and readiness, metrics, and one handler for both. */
export {
  healthHandler,
  healthReport,
  type HealthOptions,
  type HealthReport,
  type RequestHandler,
} from './health.js';
export { ballotMetrics, type BallotMetrics, type MetricsOptions, type MetricsRegistry } from './metrics.js';
export { serveHandler, type ServeHandler, type ServeOptions } from './serve.js';
export type { LeadershipView, SessionView, TermView } from './view.js';
