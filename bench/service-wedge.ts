/**
 * Reproduces the service-mode wedge of etcd 3.4 (etcd #20716, #18879): herds of server-side
 * Campaign calls waiting behind a leader, abandoned together, until a later handover through the
 * service stops answering. Each variant runs on a fresh single-node etcd and reports after how many
 * herds (and abandoned campaigns) the handover stopped, whether a brand-new connection is stuck
 * too, and whether a Campaign whose entry is already the oldest still answers.
 * Run: node --import tsx bench/service-wedge.ts [--sizes 5,20,50] [--modes cancel,revoke,both] [--same]
 */
import { parseArgs } from 'node:util';
import { escapeName } from '../src/backends/etcd/keys.js';
import { EtcdClient } from '../src/etcd/client.js';
import { startEtcd } from '../test/fixtures/etcd.js';
import { abandonHerd, handoverWorks, type Abandon } from '../test/fixtures/service-wedge.js';

const MAX_ABANDONED = 300;
const PROBE_MS = 2000;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '5,20,50' },
    modes: { type: 'string', default: 'cancel,revoke,both' },
    // Probe on the herds' own election instead of a separate one.
    same: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const modes = values.modes.split(',') as Abandon[];

for (const abandon of modes) {
  for (const size of sizes) {
    const node = await startEtcd();
    const client = new EtcdClient({ endpoints: [node.endpoint] });
    let abandoned = 0;
    let herds = 0;
    let wedged = false;
    try {
      while (abandoned < MAX_ABANDONED) {
        await abandonHerd(client, { election: 'herd', size, abandon });
        herds++;
        abandoned += size;
        if (!(await handoverWorks(client, values.same ? 'herd' : `probe-${herds}`, PROBE_MS))) {
          wedged = true;
          break;
        }
      }
      let fresh = '-';
      let oldest = '-';
      if (wedged) {
        const other = new EtcdClient({ endpoints: [node.endpoint] });
        fresh = (await handoverWorks(other, 'fresh-connection', PROBE_MS)) ? 'works' : 'stuck';
        oldest = (await oldestAnswers(other)) ? 'answers' : 'stuck';
        other.close();
      }
      console.log(
        `abandon=${abandon} herd=${size}: ${wedged ? `wedged after ${herds} herds (${abandoned} abandoned)` : `no wedge after ${abandoned} abandoned`}; ` +
          `new connection handover: ${fresh}; Campaign with entry already oldest: ${oldest}`,
      );
    } finally {
      client.close();
      await node.stop();
    }
  }
}

/** A lone candidate needs no watch in etcd's Campaign (nothing older to wait for). */
async function oldestAnswers(client: EtcdClient): Promise<boolean> {
  const lease = (await client.leaseGrant(30)).id;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), PROBE_MS);
  try {
    await client.services.campaign(escapeName('lone'), lease, 'x', abort.signal);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    await client.leaseRevoke(lease);
  }
}
