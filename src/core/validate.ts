import { InvalidArgumentError } from './errors.js';

/** Largest campaign value accepted: etcd rejects requests over 1.5 MiB, so leave room for the rest. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** TTL bounds in seconds. etcd raises very short TTLs to its own minimum (usually 2 s). */
export const MIN_TTL = 1;
export const MAX_TTL = 86_400;

/** Throws unless `name` can be an election or mutex name. */
export function checkName(name: unknown, what = 'election name'): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${JSON.stringify(name)}`);
  if (name.endsWith('/'))
    throw new InvalidArgumentError(
      `${what} "${name}" must not end with "/": ballot adds the separator itself`,
    );
  if (Buffer.byteLength(name) > 1024) throw new InvalidArgumentError(`${what} is longer than 1024 bytes`);
  return name;
}

/** Throws unless `value` is a string small enough for every backend. */
export function checkValue(value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`campaign value must be a string, got ${typeof value}`);
  const size = Buffer.byteLength(value);
  if (size > MAX_VALUE_BYTES)
    throw new InvalidArgumentError(
      `campaign value is ${size} bytes; the limit is ${MAX_VALUE_BYTES}: store large data elsewhere and campaign with a reference`,
    );
  return value;
}

/** Throws unless `ttl` is a whole number of seconds in range. */
export function checkTtl(ttl: unknown): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < MIN_TTL || ttl > MAX_TTL)
    throw new InvalidArgumentError(
      `ttl must be a whole number of seconds from ${MIN_TTL} to ${MAX_TTL}, got ${String(ttl)}`,
    );
  return ttl;
}

/** Throws unless `ms` is a non-negative finite number of milliseconds. */
export function checkMillis(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new InvalidArgumentError(
      `${what} must be a non-negative number of milliseconds, got ${String(ms)}`,
    );
  return ms;
}
