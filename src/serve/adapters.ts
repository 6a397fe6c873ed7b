/**
 * Express and Fastify faces of leaderGate. Structural types only: ballot loads neither framework,
 * and the same gate logic runs underneath (see gate.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { leaderGate, type GateElector, type LeaderGate, type LeaderGateOptions } from './gate.js';

/** An Express middleware that also owns its gate: close() releases it. */
export interface ExpressGate {
  (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The gate underneath. */
  readonly gate: LeaderGate;
  /** Same as gate.close(). */
  close(): Promise<void>;
}

/**
 * leaderGate as Express middleware: `app.use(expressGate(elector, { mode: 'proxy' }))`. Mount it
 * before any body parser, so that a follower forwards the body unread; it forwards req.originalUrl,
 * so mounting it under a path is fine.
 */
export function expressGate(elector: GateElector, options: LeaderGateOptions): ExpressGate {
  const gate = leaderGate(elector, options);
  const middleware = (
    req: IncomingMessage & { originalUrl?: string },
    res: ServerResponse,
    next: (err?: unknown) => void,
  ): void => {
    // Routers strip their mount path from req.url; the leader must see the path the client asked for.
    const url = req.url;
    if (req.originalUrl !== undefined) req.url = req.originalUrl;
    gate(req, res, () => {
      req.url = url;
      next();
    });
  };
  return Object.assign(middleware, { gate, close: () => gate.close() });
}

/** What fastifyGate uses of a Fastify request. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
}

/** What fastifyGate uses of a Fastify reply. */
export interface FastifyReplyLike {
  readonly raw: ServerResponse;
  header(name: string, value: string): unknown;
  hijack(): unknown;
}

/** What fastifyGate uses of a Fastify instance. */
export interface FastifyInstanceLike {
  addHook(
    name: 'onRequest',
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: (err?: Error) => void) => void,
  ): unknown;
  addHook(name: 'onClose', hook: (instance: unknown, done: () => void) => void): unknown;
}

/** A Fastify plugin installing the gate as an onRequest hook on the whole app. */
export interface FastifyGatePlugin {
  (instance: FastifyInstanceLike, options: unknown, done: (err?: Error) => void): void;
  /** The gate underneath; the app's close() closes it. */
  readonly gate: LeaderGate;
}

/**
 * leaderGate as a Fastify plugin: `app.register(fastifyGate(elector, { mode: 'redirect' }))`. It
 * applies to every route of the app (not encapsulated) and runs in onRequest, before the body is
 * read; a follower's reply is hijacked and written by the gate. app.close() closes the gate.
 */
export function fastifyGate(elector: GateElector, options: LeaderGateOptions): FastifyGatePlugin {
  const gate = leaderGate(elector, options);
  const plugin = (instance: FastifyInstanceLike, _options: unknown, done: (err?: Error) => void): void => {
    instance.addHook('onRequest', (request, reply, next) => {
      let served = false;
      gate(request.raw, reply.raw, () => {
        served = true;
        const token = reply.raw.getHeader(gateHeader(options));
        if (token !== undefined) reply.header(gateHeader(options), String(token));
        next();
      });
      // The gate answered (or is forwarding) on the raw response: Fastify must not reply too.
      if (!served) reply.hijack();
    });
    instance.addHook('onClose', (_instance, closed) => void gate.close().then(closed, closed));
    done();
  };
  // fastify-plugin's marker: hooks added here apply to the parent context, so to every route.
  return Object.assign(plugin, { gate, [Symbol.for('skip-override')]: true });
}

function gateHeader(options: LeaderGateOptions): string {
  return (options.tokenHeader ?? 'ballot-token').toLowerCase();
}
