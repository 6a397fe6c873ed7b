import { InvalidArgumentError } from '../../core/errors.js';
import { checkPath } from './nodes.js';

/** Options of the ZooKeeper backend. */
export interface ZookeeperOptions {
  /** `host:port[,host:port...][/chroot]`; default $ZOOKEEPER_CONNECT, else 127.0.0.1:2181. */
  connect?: string;
  /** How long one request (or connecting) may take, in ms (default 5000). */
  callTimeout?: number;
  /** Where ZOOKEEPER_CONNECT is read from (default process.env); `{}` ignores the environment. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Options with defaults applied, checked up front. */
export interface CheckedOptions {
  connect: string;
  callTimeout: number;
}

/** The default server, as zkCli.sh's. */
export const DEFAULT_CONNECT = '127.0.0.1:2181';

/** Validates the options in plain words; says which to change. */
export function checkOptions(options: ZookeeperOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('zookeeper() takes an options object, e.g. { connect: "127.0.0.1:2181" }');
  const env = options.env ?? process.env;
  const connect: unknown = options.connect ?? (env['ZOOKEEPER_CONNECT'] || DEFAULT_CONNECT);
  if (typeof connect !== 'string' || !isConnectString(connect))
    throw new InvalidArgumentError(
      `zookeeper connect must be "host:port[,host:port...][/chroot]" with ports from 1 to 65535 and a ` +
        `chroot that is a ZooKeeper path (e.g. "127.0.0.1:2181" or "zk1:2181,zk2:2181/apps"), got ${JSON.stringify(connect)}`,
    );
  const callTimeout = options.callTimeout ?? 5000;
  if (typeof callTimeout !== 'number' || !Number.isFinite(callTimeout) || callTimeout <= 0)
    throw new InvalidArgumentError(
      `zookeeper callTimeout must be a positive number of milliseconds (e.g. 5000), got ${String(callTimeout)}`,
    );
  return { connect, callTimeout };
}

/**
 * Whether node-zookeeper-client can use `connect` as given. It would take a port out of range or a
 * chroot with a "." segment and fail later, in a timer (an uncaught RangeError) or an assertion.
 */
function isConnectString(connect: string): boolean {
  const slash = connect.indexOf('/');
  const hosts = slash < 0 ? connect : connect.slice(0, slash);
  const chroot = slash < 0 ? undefined : connect.slice(slash);
  const hostsOk = hosts.split(',').every((h) => {
    const port = /^[^\s:,/]+:(\d{1,5})$/.exec(h.trim())?.[1];
    return port !== undefined && Number(port) >= 1 && Number(port) <= 65535;
  });
  if (!hostsOk) return false;
  if (chroot === undefined) return true;
  try {
    checkPath(chroot, 'chroot');
    return true;
  } catch {
    return false;
  }
}
