/**
 * An `advisory-lock` (npm) candidate process for the PostgreSQL partition bench: blocks in
 * `mutex.lock()` as the package's README shows, and says when it got the lock (CLOCK_MONOTONIC ms).
 * The package has no way to tell a holder that its lock is gone, so no "ended" line ever comes.
 *
 * Env: URL (connection string), LOCK (lock name).
 */
import advisoryLockModule from 'advisory-lock';

// The package is CommonJS with its function on `exports.default`, which an ESM default import wraps.
const advisoryLock = advisoryLockModule.default;

const url = required('URL');
const lock = required('LOCK');

const now = () => Number(process.hrtime.bigint()) / 1e6;
const say = (msg: Record<string, string | number | null>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

say({ event: 'lease', at: now() });
// Held until the bench kills this process; used as its users would, with no error handler or keepalive.
await advisoryLock(url)(lock).lock();
say({ event: 'elected', at: now() });

function required(name: string): string {
  const found = process.env[name];
  if (!found) throw new Error(`${name} is not set`);
  return found;
}
