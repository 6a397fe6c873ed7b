import { BackendUnavailableError, etcd, type Backend } from '../index.js';
import { EtcdClient } from '../etcd/client.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';
import { etcdOptions, type GlobalOptions } from './options.js';
import { Output } from './output.js';

/**
 * The backend for a command that campaigns or observes across processes. The embedded backend
 * lives inside one process, so only the demo can use it.
 */
export function openBackend(options: GlobalOptions, command: string): Backend {
  if (options.backend !== 'etcd')
    throw new UsageError(
      `\`ballot ${command}\` needs --backend etcd: the memory backend lives inside one process (only \`ballot demo\` uses it)`,
    );
  return etcd(etcdOptions(options));
}

/**
 * Runs a backend-neutral command on the backend the flags name, writing to this process's stdout
 * and stderr, and closes the backend afterwards.
 */
export async function withBackend(
  options: GlobalOptions,
  command: string,
  body: (context: CommandContext) => Promise<number>,
): Promise<number> {
  const backend = openBackend(options, command);
  try {
    return await body({ backend, out: new Output(options.json), stderr: process.stderr });
  } finally {
    await backend.close();
  }
}

/**
 * ballot's own etcd client, for operator commands that read or delete election keys directly
 * (`list`, `resign`) and so need no lease. Checks reachability within the dial timeout first.
 */
export async function openEtcdClient(options: GlobalOptions, command: string): Promise<EtcdClient> {
  if (options.backend !== 'etcd')
    throw new UsageError(`\`ballot ${command}\` works on etcd only (--backend etcd)`);
  const client = new EtcdClient(etcdOptions(options));
  try {
    await client.status(options.dialTimeout);
  } catch (err) {
    client.close();
    if (!(err instanceof BackendUnavailableError)) throw err;
    throw new BackendUnavailableError(
      `cannot reach etcd within ${options.dialTimeout} ms at ${options.endpoints.join(', ')}: ` +
        `check the endpoints and that etcd is running (${err.message})`,
      { cause: err },
    );
  }
  return client;
}
