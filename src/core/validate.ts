import { InvalidArgumentError } from './errors.js';

/** Largest campaign value accepted: etcd rejects requests over 1.5 MiB, so leave room for the rest. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** TTL bounds in seconds. etcd raises very short TTLs to its own minimum (usually 2 s). */
export const MIN_TTL = 1;
export const MAX_TTL = 86_400;

/**
 * Throws unless `name` can be an election or mutex name. Names become etcd keys, log lines and
 * command-line arguments, so the ones that cannot be told apart or typed are refused: blank names,
 * control characters (NUL included) and lone surrogates (which do not survive UTF-8 encoding).
 */
export function checkName(name: unknown, what = 'election name'): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${JSON.stringify(name)}`);
  if (name.trim() === '')
    throw new InvalidArgumentError(`${what} must not be blank, got ${JSON.stringify(name)}`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(name)} contains a control character: use printable characters only`,
    );
  // With the u flag a surrogate pair is one code point, so this matches only unpaired halves.
  if (/[\ud800-\udfff]/u.test(name))
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(name)} contains a lone UTF-16 surrogate, which has no UTF-8 encoding`,
    );
  if (name.endsWith('/'))
    throw new InvalidArgumentError(
      `${what} "${name}" must not end with "/": ballot adds the separator itself`,
    );
  if (Buffer.byteLength(name) > 1024) throw new InvalidArgumentError(`${what} is longer than 1024 bytes`);
  return name;
}

/** Throws unless `value` is a string small enough for every backend; `what` names it in errors. */
export function checkValue(value: unknown, what = 'campaign value'): string {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`${what} must be a string, got ${typeof value}`);
  const size = Buffer.byteLength(value);
  if (size > MAX_VALUE_BYTES)
    throw new InvalidArgumentError(
      `${what} is ${size} bytes; the limit is ${MAX_VALUE_BYTES}: store large data elsewhere and use a reference to it`,
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
