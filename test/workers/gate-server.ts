/**
 * One member of a gated service, for the cross-process gate tests: an elector on etcd advertising its
 * proxy server's URL, a proxy-mode server and a redirect-mode server in front of the same app.
 * JSON lines on stdout: listening, elected, deposed, leader (each change the elector reports).
 * stdin lines: {"cmd":"concede"} or {"cmd":"stop"} (resign, close everything, exit 0).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { etcd, leaderGate, LeaderElector } from '../../src/index.js';

const endpoints = (process.env['ENDPOINTS'] ?? '').split(',');
const election = process.env['ELECTION'] ?? 'gate';
const name = process.env['NAME'] ?? String(process.pid);
const ttl = Number(process.env['TTL'] ?? '2');

const say = (msg: Record<string, string | number | boolean | null>) =>
  process.stdout.write(`${JSON.stringify({ pid: process.pid, name, ...msg })}\n`);

/** The application: who served, under which token, and what it was sent. */
function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.stringify({
      name,
      pid: process.pid,
      url: req.url,
      method: req.method,
      token: res.getHeader('ballot-token') ?? null,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
}

const listen = (server: http.Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
const proxyServer = http.createServer();
const redirectServer = http.createServer();
const proxyPort = await listen(proxyServer);
const redirectPort = await listen(redirectServer);

const backend = etcd({ endpoints, callTimeout: 1000 });
const elector = new LeaderElector({
  backend,
  election,
  value: name,
  ttl,
  advertise: { http: `http://127.0.0.1:${proxyPort}` },
  flapGuard: false,
});
const proxy = leaderGate(elector, { mode: 'proxy', connectTimeout: 500, headersTimeout: 3000 });
const redirect = leaderGate(elector, { mode: 'redirect' });
proxyServer.on('request', (req, res) => proxy(req, res, () => app(req, res)));
redirectServer.on('request', (req, res) => redirect(req, res, () => app(req, res)));

elector.on('elected', (term) => say({ event: 'elected', token: term.token.toString() }));
elector.on('deposed', (term, reason) => say({ event: 'deposed', token: term.token.toString(), reason }));
elector.on('leader', (change) =>
  say({ event: 'leader', kind: change.kind, value: change.value, token: change.token?.toString() ?? null }),
);
elector.on('retrying', () => {});
say({ event: 'listening', proxyPort, redirectPort });

async function stop(): Promise<void> {
  await elector.stop();
  await Promise.all([proxy.close(), redirect.close()]);
  proxyServer.closeAllConnections();
  redirectServer.closeAllConnections();
  await Promise.all([
    new Promise((resolve) => proxyServer.close(resolve)),
    new Promise((resolve) => redirectServer.close(resolve)),
  ]);
  await backend.close();
  say({ event: 'stopped' });
}

for await (const line of createInterface({ input: process.stdin })) {
  const { cmd } = JSON.parse(line) as { cmd: string };
  if (cmd === 'concede') void elector.concede().then(() => say({ event: 'conceded' }));
  if (cmd === 'stop') {
    await stop();
    break;
  }
}
// The test's pipe would hold the process open; anything else still open (a socket) keeps it alive,
// and the test sees that as a failure to exit.
process.stdin.destroy();
