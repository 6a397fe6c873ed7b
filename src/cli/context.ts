import type { Backend } from '../index.js';
import type { Output } from './output.js';

/**
 * What a backend-neutral command runs against: the backend and where its lines go. The command
 * line opens etcd and uses the process's streams; tests hand in any backend and their own streams,
 * so the same command code is checked on every backend.
 */
export interface CommandContext {
  /** The coordination service; the caller opens and closes it. */
  readonly backend: Backend;
  /** Events and human lines (stdout in the CLI). */
  readonly out: Output;
  /** Progress lines and warnings (stderr in the CLI). */
  readonly stderr: NodeJS.WritableStream;
}
