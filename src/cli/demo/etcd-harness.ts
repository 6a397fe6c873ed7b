import { etcd } from '../../index.js';
import { electionPrefix, prefixEnd } from '../../backends/etcd/keys.js';
import { openEtcdClient } from '../connect.js';
import { etcdOptions, type GlobalOptions } from '../options.js';
import { ProcessHarness } from './process-harness.js';
import { workerConfig } from './protocol.js';

/**
 * The demo on a real etcd, a process per candidate. Connects first (failing fast, naming the
 * endpoints, if etcd is unreachable); reads the line-up and removes the data key with ballot's own
 * etcd client.
 */
export async function openEtcdHarness(
  options: GlobalOptions,
  election: string,
  dataKey: string,
): Promise<ProcessHarness> {
  const client = await openEtcdClient(options, 'demo');
  const prefix = electionPrefix(election);
  return new ProcessHarness('etcd', workerConfig(options, dataKey), election, etcd(etcdOptions(options)), {
    async queue() {
      const response = await client.range({
        key: Buffer.from(prefix),
        range_end: prefixEnd(prefix),
        sort_order: 'ASCEND',
        sort_target: 'CREATE',
      });
      return response.kvs.map((kv) => kv.value.toString());
    },
    async cleanup() {
      await client.deleteRange({ key: Buffer.from(dataKey) }).catch(() => undefined);
      client.close();
    },
  });
}
