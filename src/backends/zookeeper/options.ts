import { InvalidArgumentError } from '../../core/errors.js';

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
  const connect = options.connect ?? (env['ZOOKEEPER_CONNECT'] || DEFAULT_CONNECT);
  const [hosts = '', ...chroot] = connect.split('/');
  const hostOk = hosts.split(',').every((h) => /^[^\s:,/]+:\d{1,5}$/.test(h.trim()));
  if (typeof connect !== 'string' || !hostOk || (chroot.length > 0 && chroot.some((s) => s === '')))
    throw new InvalidArgumentError(
      `zookeeper connect must be "host:port[,host:port...][/chroot]" (e.g. "127.0.0.1:2181" or ` +
        `"zk1:2181,zk2:2181/apps"), got ${JSON.stringify(connect)}`,
    );
  const callTimeout = options.callTimeout ?? 5000;
  if (typeof callTimeout !== 'number' || !Number.isFinite(callTimeout) || callTimeout <= 0)
    throw new InvalidArgumentError(
      `zookeeper callTimeout must be a positive number of milliseconds (e.g. 5000), got ${String(callTimeout)}`,
    );
  return { connect, callTimeout };
}
