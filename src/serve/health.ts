import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError } from '../core/errors.js';
import { viewClock, type LeadershipView } from './view.js';

/** Options of healthHandler() and healthReport(). */
export interface HealthOptions {
  /**
   * A leader with less than this many ms left before its session deadline is unhealthy (default:
   * a third of the session TTL, i.e. two renewals missed).
   */
  minDeadlineLeftMs?: number;
  /** 'health' (default): 503 only for a wedged leader; 'ready': 200 only for a healthy leader. */
  mode?: 'health' | 'ready';
}

/** The JSON body of a health or readiness answer. */
export interface HealthReport {
  /** 'ok' with status 200, else 'unhealthy' (health) or 'not-ready' (readiness) with 503. */
  status: 'ok' | 'unhealthy' | 'not-ready';
  /** What this process is now. */
  role: 'leader' | 'follower' | 'stopped';
  /** Election name. */
  election: string;
  /** The term's fencing token (a decimal string), or null when not leading. */
  token: string | null;
  /** How long the current term has lasted, in ms, or null. */
  termAgeMs: number | null;
  /** Ms since the session's last acknowledged renewal, or null without a session. */
  lastRenewalMs: number | null;
  /** Ms left before the session deadline, or null without a session. */
  deadlineLeftMs: number | null;
  /** The session id, or null. */
  session: string | null;
  /** True while the session's renewals are failing or overdue. */
  suspended: boolean;
  /** Why the status is not ok, for people. */
  reason?: string;
}

/**
 * Judges a candidate the way client-go's leader-election healthz adaptor does: healthy unless it
 * believes it leads while its session is about to lapse (deadline near, or renewals failing): a
 * wedged leader that an orchestrator should restart. Followers are healthy. In 'ready' mode only a
 * healthy leader is ready, for deployments that route traffic to the leader alone.
 */
export function healthReport(view: LeadershipView, options: HealthOptions = {}): HealthReport {
  const now = viewClock(view).now();
  const session = view.stopped ? undefined : view.currentSession;
  const leading = view.isLeader();
  const term = leading ? view.term : undefined;
  const report: HealthReport = {
    status: 'ok',
    role: view.stopped ? 'stopped' : leading ? 'leader' : 'follower',
    election: view.election,
    token: term ? term.token.toString() : null,
    termAgeMs: term ? Math.round(now - term.startedAt) : null,
    lastRenewalMs: session ? Math.round(now - session.lastRenewalAt) : null,
    deadlineLeftMs: session ? Math.round(session.deadline - now) : null,
    session: session?.id ?? null,
    suspended: session?.suspended ?? false,
  };
  const reason = unhealthy(report, session?.ttlMs, options.minDeadlineLeftMs);
  if (reason) {
    report.status = 'unhealthy';
    report.reason = reason;
  } else if (options.mode === 'ready' && report.role !== 'leader') {
    report.status = 'not-ready';
    report.reason = `not the leader of "${view.election}"`;
  }
  return report;
}

function unhealthy(
  report: HealthReport,
  ttlMs: number | undefined,
  min: number | undefined,
): string | undefined {
  if (report.role === 'stopped') return 'the elector has stopped';
  if (report.role !== 'leader' || ttlMs === undefined || report.deadlineLeftMs === null) return undefined;
  const threshold = min ?? ttlMs / 3;
  if (report.suspended) return 'leading, but session renewals are failing';
  if (report.deadlineLeftMs < threshold)
    return `leading, but only ${report.deadlineLeftMs} ms are left before the session deadline`;
  return undefined;
}

/** A node:http request handler. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A node:http handler answering 200 or 503 with healthReport()'s JSON (HEAD: no body). Mount it
 * at /healthz (mode 'health') or /readyz (mode 'ready'), or use serveHandler() for both and /metrics.
 */
export function healthHandler(view: LeadershipView, options: HealthOptions = {}): RequestHandler {
  checkHealthOptions(options);
  return (req, res) => {
    const report = healthReport(view, options);
    const body = `${JSON.stringify(report)}\n`;
    res.writeHead(report.status === 'ok' ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** Throws InvalidArgumentError for options no handler could use. */
export function checkHealthOptions(options: HealthOptions): void {
  const { minDeadlineLeftMs, mode } = options;
  if (minDeadlineLeftMs !== undefined && !(Number.isFinite(minDeadlineLeftMs) && minDeadlineLeftMs >= 0))
    throw new InvalidArgumentError(
      `minDeadlineLeftMs must be a number of milliseconds >= 0, got ${String(minDeadlineLeftMs)}`,
    );
  if (mode !== undefined && mode !== 'health' && mode !== 'ready')
    throw new InvalidArgumentError(`health mode must be 'health' or 'ready', got ${String(mode)}`);
}
