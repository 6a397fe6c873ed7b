/** A small HTTP client for the gate tests: one keep-alive undici Agent, answers read whole, every call bounded. */
import { Agent, request } from 'undici';

/** One answer, body read and parsed when JSON. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The app's echo (see test/workers/gate-server.ts), when the body was one. */
  json: Echo | undefined;
}

/** What the test app answers: who served, under which token, what it got. */
export interface Echo {
  name: string;
  pid: number;
  url: string;
  method: string;
  token: string | null;
  headers: Record<string, string>;
  body: string;
}

/** A pooled client; close() releases its sockets. */
export class GateClient {
  private readonly agent = new Agent({ keepAliveTimeout: 2000, connect: { timeout: 2000 } });

  /** Sends one request; rejects after `timeoutMs` without a whole answer. */
  async call(
    url: string,
    init: {
      method?: 'GET' | 'POST' | 'PUT';
      body?: string;
      headers?: Record<string, string>;
      timeoutMs?: number;
    } = {},
  ): Promise<Answer> {
    const answer = await request(url, {
      dispatcher: this.agent,
      method: init.method ?? 'GET',
      body: init.body,
      headers: init.headers,
      signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
    });
    const text = await answer.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined) headers[k] = String(v);
    let json: Echo | undefined;
    if (headers['content-type']?.startsWith('application/json')) json = JSON.parse(text) as Echo;
    return { status: answer.statusCode, headers, text, json };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
