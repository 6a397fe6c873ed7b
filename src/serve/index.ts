/** Serving behind an election: forwarding to the leader, health and readiness, metrics, one handler for the last two. */
export {
  expressGate,
  fastifyGate,
  type ExpressGate,
  type FastifyGatePlugin,
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
} from './adapters.js';
export {
  leaderGate,
  type GateElector,
  type LeaderGate,
  type LeaderGateOptions,
  type RefusedReason,
} from './gate.js';
export { FORWARDED_HEADER, REFUSED_HEADER, TOKEN_HEADER } from './headers.js';
export {
  leaderFetch,
  LeaderUnavailableError,
  type LeaderFetch,
  type LeaderFetchOptions,
  type LeaderSource,
} from './leader-fetch.js';
export type { ForwardTimeouts } from './proxy.js';
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
