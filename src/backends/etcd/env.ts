import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../../core/errors.js';
import type { ConnectionOptions, TlsOptions } from '../../etcd/connection.js';

/** Environment variables, as in `process.env`. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Where etcd clients connect when neither options nor the environment name an endpoint (etcdctl's default). */
export const DEFAULT_ENDPOINT = '127.0.0.1:2379';

/** The value of variable `name`; an empty variable counts as unset, as in etcdctl. */
export function variable(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A comma-separated endpoint list ("host:port, host:port") as its non-empty, trimmed entries. */
export function splitEndpoints(text: string): string[] {
  return text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/** ETCDCTL_ENDPOINTS ("host:port,host:port") as a list. */
export function envEndpoints(env: Environment): string[] | undefined {
  const text = variable(env, 'ETCDCTL_ENDPOINTS');
  const endpoints = text === undefined ? [] : splitEndpoints(text);
  return endpoints.length ? endpoints : undefined;
}

/**
 * Credentials from ETCDCTL_USER and ETCDCTL_PASSWORD, by etcdctl's rule: with ETCDCTL_PASSWORD set,
 * ETCDCTL_USER is the whole name; without it, ETCDCTL_USER is "name:password". A password without a
 * user is ignored, as etcdctl ignores it.
 */
export function envAuth(env: Environment): { username: string; password: string } | undefined {
  const user = variable(env, 'ETCDCTL_USER');
  if (user === undefined) return undefined;
  const password = variable(env, 'ETCDCTL_PASSWORD');
  if (password !== undefined) return { username: user, password };
  const colon = user.indexOf(':');
  if (colon < 0)
    throw new InvalidArgumentError(
      `ETCDCTL_USER "${user}" has no password: set ETCDCTL_USER=name:password, or ETCDCTL_PASSWORD`,
    );
  if (colon === 0) throw new InvalidArgumentError('ETCDCTL_USER has no name before the ":"');
  return { username: user.slice(0, colon), password: user.slice(colon + 1) };
}

/** The contents of the PEM file that ETCDCTL_CACERT, ETCDCTL_CERT or ETCDCTL_KEY names. */
export function envFile(
  env: Environment,
  name: 'ETCDCTL_CACERT' | 'ETCDCTL_CERT' | 'ETCDCTL_KEY',
): Buffer | undefined {
  const file = variable(env, name);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InvalidArgumentError(`cannot read ${name}=${file} (${reason}): set it to a readable PEM file`);
  }
}

/** TLS material from ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY; undefined when none is set. */
export function envTls(env: Environment): TlsOptions | undefined {
  if ((variable(env, 'ETCDCTL_CERT') === undefined) !== (variable(env, 'ETCDCTL_KEY') === undefined))
    throw new InvalidArgumentError('ETCDCTL_CERT and ETCDCTL_KEY go together: set both or neither');
  const tls: TlsOptions = {};
  const ca = envFile(env, 'ETCDCTL_CACERT');
  const cert = envFile(env, 'ETCDCTL_CERT');
  const key = envFile(env, 'ETCDCTL_KEY');
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return ca || cert ? tls : undefined;
}

/** ETCDCTL_DIAL_TIMEOUT, a duration in etcdctl's (Go's) format such as "2s" or "1m30s", in ms. */
export function envDialTimeout(env: Environment): number | undefined {
  const text = variable(env, 'ETCDCTL_DIAL_TIMEOUT');
  if (text === undefined) return undefined;
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0)
    throw new InvalidArgumentError(
      `ETCDCTL_DIAL_TIMEOUT must be a positive duration such as 2s, 500ms or 1m30s, got "${text}"`,
    );
  return ms;
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds in a Go duration ("300ms", "2s", "1m30s", "1.5h", "0"); undefined if it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const match = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0)$/.exec(text);
  if (!match) return undefined;
  let total = 0;
  for (const [, amount, unit] of (match[2] as string).matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g))
    total += Number(amount) * (GO_UNITS[unit as string] as number);
  return match[1] === '-' ? -total : total;
}

/**
 * `options` with each setting it leaves unset taken from the ETCDCTL_* variables of `env`, and
 * 127.0.0.1:2379 when neither names an endpoint. A setting given in `options` wins as a whole:
 * `tls` or `auth` passed in means the environment's TLS or credentials are not read at all.
 */
export function withEnvironment(options: Partial<ConnectionOptions>, env: Environment): ConnectionOptions {
  const result: ConnectionOptions = {
    ...options,
    endpoints: options.endpoints ?? envEndpoints(env) ?? [DEFAULT_ENDPOINT],
  };
  const tls = options.tls ?? envTls(env);
  if (tls) result.tls = tls;
  const auth = options.auth ?? envAuth(env);
  if (auth) result.auth = auth;
  const dialTimeout = options.dialTimeout ?? envDialTimeout(env);
  if (dialTimeout !== undefined) result.dialTimeout = dialTimeout;
  return result;
}
