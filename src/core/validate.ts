import type { BackendLimits } from './contract.js';
import { InvalidArgumentError } from './errors.js';

/** A backend's limits and its name, which every message about them includes. */
export interface NamedLimits extends BackendLimits {
  /** The backend's kind: "etcd", "memory", ... */
  backend: string;
}

/**
 * Throws unless `name` can be an election or mutex name. Names become backend keys, log lines and
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

/** Throws unless `value` is a string the backend can store; `what` names it in errors. */
export function checkValue(value: unknown, limits: NamedLimits, what = 'campaign value'): string {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`${what} must be a string, got ${typeof value}`);
  const size = Buffer.byteLength(value);
  if (size > limits.maxValueBytes)
    throw new InvalidArgumentError(
      `${what} is ${size} bytes; the limit is ${limits.maxValueBytes} on ${limits.backend}: store large data elsewhere and use a reference to it`,
    );
  return value;
}

/**
 * Throws unless `ttl` (seconds, as users give it) is a TTL the backend grants; returns it in ms.
 * The message states the backend's rule, e.g. whole seconds from 1 to 86400 on etcd.
 */
export function checkTtl(ttl: unknown, limits: NamedLimits): number {
  const { minMs, maxMs, granularityMs } = limits.ttl;
  const ms = typeof ttl === 'number' ? Math.round(ttl * 1000 * 1e6) / 1e6 : NaN;
  if (Number.isFinite(ms) && ms >= minMs && ms <= maxMs && ms % granularityMs === 0) return ms;
  const rule =
    granularityMs === 1000
      ? `a whole number of seconds from ${minMs / 1000} to ${maxMs / 1000}`
      : `a number of seconds from ${minMs / 1000} to ${maxMs / 1000} in steps of ${granularityMs} ms`;
  throw new InvalidArgumentError(`ttl must be ${rule}, got ${String(ttl)} (the limits of ${limits.backend})`);
}

/** Throws unless `ms` is a non-negative finite number of milliseconds. */
export function checkMillis(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
    throw new InvalidArgumentError(
      `${what} must be a non-negative number of milliseconds, got ${String(ms)}`,
    );
  return ms;
}
