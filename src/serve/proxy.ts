/**
 * The proxy half of the gate: one pooled keep-alive undici Agent per gate, streaming a request to the
 * leader and its response back, each phase bounded so a dead or paused leader costs a 503, not a hang.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { endToEnd, forwardHeaders } from './headers.js';

/** Bounds of one forwarded request, in ms. */
export interface ForwardTimeouts {
  /** Opening a connection to the leader (default 1000). */
  connectTimeout?: number;
  /** From sending the request to the leader's response head (default 10000): the app's own time counts. */
  headersTimeout?: number;
  /** Longest silence within the leader's response body (default 30000). */
  bodyTimeout?: number;
}

// Requests without a body must not get one: undici would send a chunked empty body with GET.
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'DELETE']);

/** Streams requests to URLs on a pooled Agent; close() aborts in-flight ones. */
export class Forwarder {
  private readonly agent: Agent;

  constructor(options: ForwardTimeouts & { connections?: number }) {
    this.agent = new Agent({
      connect: { timeout: options.connectTimeout ?? 1000 },
      headersTimeout: options.headersTimeout ?? 10_000,
      bodyTimeout: options.bodyTimeout ?? 30_000,
      connections: options.connections ?? 128,
      keepAliveTimeout: 4000,
    });
  }

  /**
   * Sends `req` to `url` and pipes the answer into `res`. `fail` is called (once) if no response
   * head arrived; a failure after the head was sent cuts the client's response off instead.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    election: string,
    fail: (detail: string) => void,
  ): void {
    const target = new URL(url);
    const controller = new AbortController();
    // The client went away: stop working for it upstream too.
    const onClose = () => controller.abort();
    res.once('close', onClose);
    const method = (req.method ?? 'GET').toUpperCase();
    const hasBody =
      !BODYLESS.has(method) ||
      req.headers['content-length'] !== undefined ||
      req.headers['transfer-encoding'] !== undefined;
    const headers = forwardHeaders(req, election);
    // undici refuses Expect; the leader would answer 100-continue to us, not to the client.
    delete headers['expect'];
    const options: Dispatcher.RequestOptions = {
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: method as Dispatcher.HttpMethod,
      headers,
      signal: controller.signal,
    };
    if (hasBody) options.body = req;
    this.agent.request(options).then(
      (answer) => {
        if (res.destroyed) {
          answer.body.destroy();
          return;
        }
        res.writeHead(answer.statusCode, endToEnd(answer.headers));
        pipeline(answer.body, res, () => res.off('close', onClose));
      },
      (err: unknown) => {
        res.off('close', onClose);
        if (res.destroyed) return;
        const code = (err as { code?: unknown }).code;
        fail(
          `the leader at ${target.origin} did not answer: ${typeof code === 'string' ? code : String(err)}`,
        );
      },
    );
  }

  /**
   * Aborts in-flight forwards and closes every socket. Not agent.close(): that waits for them, and
   * bodyTimeout bounds only silence, so a response that streams on kept close() waiting for good.
   */
  async close(): Promise<void> {
    await this.agent.destroy();
  }
}
