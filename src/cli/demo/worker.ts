import { createInterface } from 'node:readline';
import { etcd, type EtcdOptions } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { toJson } from '../output.js';
import { DemoCandidate, leaseLabel } from './candidate.js';
import { parseLine, type WorkerCommand, type WorkerConfig, type WorkerMessage } from './protocol.js';

/**
 * One candidate of `ballot demo --backend etcd`, in its own process so that the demo's crash and
 * pause are a real SIGKILL and SIGSTOP. Reads commands on stdin, reports on stdout; when stdin
 * closes (the demo is gone) it leaves the election.
 */
export async function runWorker(name: string, election: string): Promise<number> {
  const send = (msg: WorkerMessage) => process.stdout.write(`${toJson(msg)}\n`);
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const first = await lines.next();
  const config = first.done ? undefined : parseLine<WorkerConfig>(first.value);
  if (config?.cmd !== 'config') return ExitCode.USAGE;
  const backend = etcd(connection(config));
  const candidate = new DemoCandidate(backend, election, name, config.ttl, config.dataKey);
  candidate.on('session', (s) => send({ ev: 'session', lease: leaseLabel(s.lease), deadline: s.deadline }));
  candidate.on('elected', (t) => send({ ev: 'elected', ...t }));
  candidate.on('deposed', (t) => send({ ev: 'deposed', ...t }));
  candidate.on('write', (w) => send({ ev: 'write', ...w }));
  candidate.on('failed', (message) => send({ ev: 'failed', message }));
  try {
    candidate.start();
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const command = parseLine<WorkerCommand>(next.value);
      if (command?.cmd === 'leave') break;
      if (command?.cmd === 'concede') {
        await candidate.concede();
        send({ ev: 'conceded' });
      } else if (command?.cmd === 'stale-write') {
        const stale = await candidate.thaw();
        send(stale ? { ev: 'stale', ...stale } : { ev: 'stale', candidate: name, token: null });
      }
    }
    await candidate.stop();
    send({ ev: 'left' });
    return ExitCode.OK;
  } finally {
    await backend.close();
    process.stdin.destroy();
  }
}

function connection(config: WorkerConfig): EtcdOptions {
  // The demo resolved flags and environment already; the worker takes its settings as they are.
  const options: EtcdOptions = { endpoints: config.endpoints, dialTimeout: config.dialTimeout, env: {} };
  const pem = (b64: string | undefined) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64'));
  if (config.tls) {
    const tls: NonNullable<EtcdOptions['tls']> = {};
    const ca = pem(config.tls.ca);
    const cert = pem(config.tls.cert);
    const key = pem(config.tls.key);
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    options.tls = tls;
  }
  if (config.auth) options.auth = config.auth;
  return options;
}
