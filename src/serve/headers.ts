/**
 * Header names the gate and leaderFetch agree on, and the header arithmetic of a forwarding hop.
 * Lower case, as node:http hands incoming headers over.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Response header with the serving term's fencing token (decimal), set by the leader's gate. */
export const TOKEN_HEADER = 'ballot-token';
/** Request header a forwarding gate adds (value: the election); a non-leader answers it with 503. */
export const FORWARDED_HEADER = 'ballot-forwarded';
/**
 * Response header on the gate's own 503s, naming why (no-leader, unknown, no-address, unreachable,
 * loop, not-leader). Its presence means the application never saw the request, so a client may retry it.
 */
export const REFUSED_HEADER = 'ballot-refused';

// RFC 9110 7.6.1: meant for one connection only, never passed on by a proxy.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** `headers` without hop-by-hop ones, those the Connection header names included. */
export function endToEnd(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const named = String(headers['connection'] ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || named.includes(lower)) continue;
    out[lower] = value;
  }
  return out;
}

/** The headers to send the leader: end-to-end ones, X-Forwarded-*, the loop guard; Host is the leader's. */
export function forwardHeaders(req: IncomingMessage, election: string): Record<string, string | string[]> {
  const headers = endToEnd(req.headers);
  delete headers['host'];
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  headers['x-forwarded-host'] = req.headers['x-forwarded-host'] ?? req.headers.host ?? '';
  headers['x-forwarded-proto'] =
    req.headers['x-forwarded-proto'] ?? ((req.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http');
  headers[FORWARDED_HEADER] = election;
  return headers;
}
