import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveHandler, type Clock, type LeadershipView, type Session, type Term } from '../index.js';
import { UsageError } from './errors.js';

/**
 * What `campaign` and `run` hold, seen as health reads it: they drive a session and a term by
 * hand rather than through a LeaderElector, and update this as they go.
 */
export class CommandLeadership implements LeadershipView {
  /** Election (or lock) name. */
  readonly election: string;
  /** The backend's clock. */
  readonly clock: Clock;
  /** The session campaigned on now. */
  currentSession: Session | undefined;
  /** True once the command is done. */
  stopped = false;
  private held: Term | undefined;

  constructor(election: string, clock: Clock) {
    this.election = election;
    this.clock = clock;
  }

  /** The term now held, if it is still current. */
  get term(): Term | undefined {
    return this.held?.active ? this.held : undefined;
  }

  /** Records the term won (or undefined when it is given up). */
  hold(term: Term | undefined): void {
    this.held = term;
  }

  /** True while the held term is current. */
  isLeader(): boolean {
    return this.held?.active ?? false;
  }
}

/** Splits --health's host:port ("127.0.0.1:9100", "[::1]:9100", ":9100" for every interface). */
export function parseListen(text: string): { host?: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || !(port >= 0 && port <= 65535))
    throw new UsageError(
      `--health ${text}: give host:port, e.g. 127.0.0.1:9100 (or :9100 for every interface)`,
    );
  const host = match[1] ?? match[2];
  return host ? { host, port } : { port };
}

/** A running health server; close() ends it and its connections. */
export interface HealthServer {
  /** "http://host:port" it answers on (the real port when 0 was asked for). */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves /healthz and /readyz for `view` on `address` (see parseListen). */
export async function serveHealth(address: string, view: LeadershipView): Promise<HealthServer> {
  const { host, port } = parseListen(address);
  const server = createServer(serveHandler(view));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new UsageError(
          `--health ${address}: cannot listen there (${(err as NodeJS.ErrnoException).code ?? err.message})`,
        ),
      ),
    );
    server.listen(port, host, resolve);
  });
  const bound = server.address() as AddressInfo;
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${shown}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
