/**
 * One process, one ballot session on PostgreSQL, COUNT elections: campaigns in all of them at once and
 * reports, as JSON lines, how long that took and the memory held after a full GC, then holds every
 * term until sent "close" on stdin. Its own process, so its RSS is ballot's (plus Node and tsx).
 *
 * Env: URL (connection string), COUNT, TTL (seconds), APP (application_name).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { postgres, type Term } from '../../src/index.js';

const url = required('URL');
const count = Number(required('COUNT'));
const ttl = Number(required('TTL'));
const app = required('APP');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal };
};
const say = (msg: Record<string, string | number | null>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

const backend = postgres({ connectionString: url, env: {}, applicationName: app });
const session = await backend.session({ ttl });
say({ event: 'ready', ...memory() });

const terms: Term[] = [];
let failed = 0;
let firstError: string | null = null;
const started = performance.now();
// What `await Promise.all(names.map((n) => session.election(n).campaign(v)))` does.
await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    try {
      terms.push(await session.election(`bench-pg-many-${i}`).campaign(`v${i}`));
    } catch (err) {
      failed += 1;
      firstError ??=
        err instanceof Error ? `${err.constructor.name}: ${err.message}`.slice(0, 300) : String(err);
    }
  }),
);
say({
  event: 'campaigned',
  ms: performance.now() - started,
  ok: terms.length,
  failed,
  firstError,
  active: terms.filter((t) => t.active).length,
  ...memory(),
});

let input = '';
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  input += chunk;
  const lines = input.split('\n');
  input = lines.pop() ?? '';
  for (const command of lines.map((l) => l.trim())) {
    if (command === '"memory"')
      say({ event: 'memory', active: terms.filter((t) => t.active).length, ...memory() });
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
