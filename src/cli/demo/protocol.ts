import type { JsonField } from '../output.js';

/** Connection settings the etcd demo hands each worker on its stdin (kept off argv and env). */
export interface WorkerConfig {
  cmd: 'config';
  endpoints: string[];
  dialTimeout: number;
  ttl: number;
  dataKey: string;
  /** PEM files' contents, base64. */
  tls?: { ca?: string; cert?: string; key?: string };
  auth?: { username: string; password: string };
}

/** What the etcd demo asks of a worker, one JSON object per stdin line. */
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
