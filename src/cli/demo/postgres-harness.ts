import { checkOptions } from '../../backends/postgres/options.js';
import { adapterFor } from '../../backends/postgres/source.js';
import { Statements } from '../../backends/postgres/statements.js';
import { postgres } from '../../index.js';
import { explainUnavailable } from '../connect.js';
import { postgresOptions, type GlobalOptions } from '../options.js';
import { ProcessHarness } from './process-harness.js';
import { workerConfig } from './protocol.js';

/**
 * The demo on PostgreSQL, a process per candidate as on etcd. Connects first, creating the tables
 * if the role may, so a wrong --dsn fails before any worker starts. The data key the candidates'
 * guards write lives in ballot's kv table; it is deleted at the end through a connection of its own.
 */
export async function openPostgresHarness(
  options: GlobalOptions,
  election: string,
  dataKey: string,
): Promise<ProcessHarness> {
  const backend = postgres(postgresOptions(options));
  try {
    await backend.elections(election);
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw explainUnavailable(err, options);
  }
  return new ProcessHarness('postgres', workerConfig(options, dataKey), election, backend, {
    async queue() {
      return (await backend.participants(election)).map((p) => p.value);
    },
    async cleanup() {
      const pgOptions = { ...postgresOptions(options), poolSize: 2 };
      const adapter = adapterFor(pgOptions, checkOptions(pgOptions));
      const sql = new Statements(options.schema ?? 'ballot');
      await adapter.query(sql.kvDelete, [dataKey], options.dialTimeout).catch(() => undefined);
      await adapter.close().catch(() => undefined);
    },
  });
}
