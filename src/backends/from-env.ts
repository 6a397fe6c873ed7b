import type { Backend } from '../core/backend.js';
import { InvalidArgumentError } from '../core/errors.js';
import { etcd } from './etcd/index.js';
import { memory } from './memory/index.js';
import { postgres } from './postgres/index.js';
import { zookeeper } from './zookeeper/index.js';

/** The names $BALLOT_BACKEND takes, as the CLI's --backend does. */
export type BackendKind = 'etcd' | 'memory' | 'postgres' | 'zookeeper';

/**
 * The backend that $BALLOT_BACKEND names (etcd when unset), connected as that store's own tools
 * connect from the environment: etcd() from ETCDCTL_ENDPOINTS and the other ETCDCTL_* variables,
 * postgres() from DATABASE_URL or PGHOST/PGUSER/..., zookeeper() from ZOOKEEPER_CONNECT; memory()
 * needs nothing. For services configured by their environment, and for code that runs unchanged on
 * every backend (the examples do). The Backend's guard transaction is the plain key-value one.
 */
export function backendFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Backend {
  const kind = env['BALLOT_BACKEND'] || 'etcd';
  switch (kind) {
    case 'etcd':
      return etcd({ env });
    case 'memory':
      return memory();
    case 'postgres':
      return postgres({ env });
    case 'zookeeper':
      return zookeeper({ env });
    default:
      throw new InvalidArgumentError(
        `BALLOT_BACKEND must be etcd, memory, postgres or zookeeper, got ${JSON.stringify(kind)}`,
      );
  }
}
