/**
 * One process, one ballot session, COUNT elections: campaigns in all of them and reports, as JSON
 * lines, how long that took and the memory it holds, then keeps every term, reporting its memory
 * when sent "memory" on stdin, until sent "close".
 * Runs as its own process so its RSS is ballot's (plus Node and tsx), not the bench's.
 *
 * Env: ENDPOINT (host:port), COUNT, CONCURRENCY (campaigns in flight; 0 = all at once), TTL (seconds).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { etcd, type Term } from '../../src/index.js';

const endpoint = required('ENDPOINT');
const count = Number(required('COUNT'));
const concurrency = Number(required('CONCURRENCY'));
const ttl = Number(required('TTL'));

// Memory is reported after a full collection, so it is what the elections hold, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  };
};
const say = (msg: Record<string, string | number | null>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const backend = etcd({ endpoints: [endpoint] });
const session = await backend.session({ ttl });
say({ event: 'ready', ...memory() });

const terms: Term[] = [];
let failed = 0;
let firstError: string | null = null;
const campaign = async (i: number) => {
  try {
    terms.push(await session.election(`bench-many-${i}`).campaign(`v${i}`));
  } catch (err) {
    failed += 1;
    firstError ??=
      err instanceof Error ? `${err.constructor.name}: ${err.message}`.slice(0, 300) : String(err);
  }
};
const started = performance.now();
if (concurrency <= 0) {
  // What `await Promise.all(names.map((n) => session.election(n).campaign(v)))` does.
  await Promise.all(Array.from({ length: count }, (_, i) => campaign(i)));
} else {
  let next = 0;
  const lane = async () => {
    while (next < count) await campaign(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}
const ms = performance.now() - started;
say({
  event: 'campaigned',
  ms,
  ok: terms.length,
  failed,
  firstError,
  active: terms.filter((t) => t.active).length,
  ...memory(),
});

// Commands from the bench, one JSON string per line: "memory" reports memory now, "close" closes.
let input = '';
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  input += chunk;
  const lines = input.split('\n');
  input = lines.pop() ?? '';
  for (const command of lines.map((l) => l.trim())) {
    if (command === '"memory"') say({ event: 'memory', ...memory() });
    if (command !== '"close"') continue;
    // Nothing else may hold the process open: if it does not exit after this, the bench reports a leak.
    process.stdin.destroy();
    const closing = performance.now();
    void backend.close().then(() => say({ event: 'closed', ms: performance.now() - closing }));
  }
});

function required(name: string): string {
  const found = process.env[name];
  if (!found) throw new Error(`${name} is not set`);
  return found;
}
