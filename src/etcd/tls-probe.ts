import { connect } from 'node:tls';

/** How long the probe may take at most: it only runs on the error path of a plain connection. */
export const TLS_PROBE_MS = 1000;

/**
 * Whether `address` ("host:port") completes a TLS handshake, certificate unchecked: tells a server
 * that expects TLS from one that is down or not etcd, so a plain connection's error can say which.
 * `signal` ends the probe (false) and frees its socket and timer at once.
 */
export function speaksTls(address: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  return new Promise((resolve) => {
    // No server name: only whether TLS is spoken matters here, and an IP must not be sent as one.
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    const done = (result: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      socket.destroy();
      resolve(result);
    };
    const abort = () => done(false);
    const timer = setTimeout(abort, timeoutMs);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
