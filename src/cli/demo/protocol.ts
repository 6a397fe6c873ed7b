import type { EtcdMode, EtcdOptions } from '../../index.js';
import type { GlobalOptions } from '../options.js';
import type { JsonField } from '../output.js';

/** Connection settings the demo hands each worker on its stdin (kept off argv and env). */
export interface WorkerConfig {
  cmd: 'config';
  /** Which server the worker campaigns on; etcd when absent. */
  backend?: 'etcd' | 'postgres' | 'zookeeper';
  endpoints: string[];
  dialTimeout: number;
  mode: EtcdMode;
  ttl: number;
  dataKey: string;
  /** PEM files' contents, base64. */
  tls?: { ca?: string; cert?: string; key?: string };
  auth?: { username: string; password: string };
  /** postgres: --dsn; without it the worker reads $DATABASE_URL or PG* from the environment it inherits. */
  dsn?: string;
  /** postgres: the schema of ballot's tables. */
  schema?: string;
  /** zookeeper: --zk; without it the worker reads $ZOOKEEPER_CONNECT from the environment it inherits. */
  zk?: string;
}

const PEMS = ['ca', 'cert', 'key'] as const;

/** The worker's settings: the demo's own, resolved from flags and environment already. */
export function workerConfig(o: GlobalOptions, dataKey: string): WorkerConfig {
  const { endpoints, dialTimeout, mode, ttl, auth } = o;
  const config: WorkerConfig = { cmd: 'config', endpoints, dialTimeout, mode, ttl, dataKey };
  if (o.tls)
    config.tls = Object.fromEntries(
      PEMS.flatMap((k) => (o.tls?.[k] ? [[k, o.tls[k].toString('base64')]] : [])),
    );
  if (auth) config.auth = auth;
  if (o.backend === 'postgres') {
    config.backend = 'postgres';
    config.schema = o.schema ?? 'ballot';
    if (o.dsn !== undefined) config.dsn = o.dsn;
  }
  if (o.backend === 'zookeeper') {
    config.backend = 'zookeeper';
    if (o.zk !== undefined) config.zk = o.zk;
  }
  return config;
}

/** The etcd() options a worker connects with; `env: {}` because the settings are complete. */
export function workerEtcdOptions(config: WorkerConfig): EtcdOptions {
  const { endpoints, dialTimeout, mode, auth } = config;
  const options: EtcdOptions = { endpoints, dialTimeout, mode, env: {} };
  if (config.tls)
    options.tls = Object.fromEntries(
      PEMS.flatMap((k) => (config.tls?.[k] ? [[k, Buffer.from(config.tls[k], 'base64')]] : [])),
    );
  if (auth) options.auth = auth;
  return options;
}

/** What the demo asks of a worker, one JSON object per stdin line. */
export type WorkerCommand = WorkerConfig | { cmd: 'concede' } | { cmd: 'stale-write' } | { cmd: 'leave' };

/** What a worker reports, one JSON object per stdout line; tokens are decimal strings. */
export type WorkerMessage = { ev: string; [key: string]: JsonField };

/** Parses one protocol line, or returns undefined for anything that is not a JSON object. */
export function parseLine<T>(line: string): T | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}
