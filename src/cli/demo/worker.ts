import { createInterface } from 'node:readline';
import { etcd, postgres, zookeeper, type Backend } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { postgresOptions, zookeeperOptions } from '../options.js';
import { toJson } from '../output.js';
import { DemoCandidate, leaseLabel } from './candidate.js';
import {
  parseLine,
  workerEtcdOptions,
  type WorkerCommand,
  type WorkerConfig,
  type WorkerMessage,
} from './protocol.js';

/**
 * One candidate of `ballot demo --backend etcd|postgres|zookeeper`, in its own process so that the demo's crash and
 * pause are a real SIGKILL and SIGSTOP. Reads commands on stdin, reports on stdout; when stdin
 * closes (the demo is gone) it leaves the election.
 */
export async function runWorker(name: string, election: string): Promise<number> {
  const send = (msg: WorkerMessage) => process.stdout.write(`${toJson(msg)}\n`);
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const first = await lines.next();
  const config = first.done ? undefined : parseLine<WorkerConfig>(first.value);
  if (config?.cmd !== 'config') return ExitCode.USAGE;
  const backend = open(config);
  // A postgres session id is shown as its row's id, in decimal; a ZooKeeper one is hex already;
  // etcd leases in hex, as etcdctl does.
  const lease = (id: string) =>
    config.backend === undefined || config.backend === 'etcd' ? leaseLabel(id) : id;
  const candidate = new DemoCandidate(backend, election, name, config.ttl, config.dataKey);
  candidate.on('session', (s) => send({ ev: 'session', lease: lease(s.lease), deadline: s.deadline }));
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

/** The worker's backend, from the settings the demo resolved. */
function open(config: WorkerConfig): Backend {
  if (config.backend === 'postgres') return postgres(postgresOptions(config));
  if (config.backend === 'zookeeper') return zookeeper(zookeeperOptions(config));
  return etcd(workerEtcdOptions(config));
}
