// The crawler's masters under faults: starts three examples/crawler-master.ts processes, sends a
// stream of workers' claims to whichever masters are up, SIGKILLs the leader, later SIGSTOPs the
// next one past its TTL, and checks that claims kept being served, with a bounded gap after each
// fault, and that no work item was handed out twice.
//   ETCDCTL_ENDPOINTS=127.0.0.1:2379 node --import tsx examples/crawler-demo.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const TTL = 2;
const MASTER = fileURLToPath(new URL('./crawler-master.ts', import.meta.url));

interface Master {
  name: string;
  child: ChildProcess;
  port: number;
  up: boolean;
}
interface Claim {
  at: number;
  ok: boolean;
  item?: number;
  master?: string;
  token?: string;
}

/** Starts one master and resolves once it listens. */
function startMaster(name: string): Promise<Master> {
  const child = spawn(process.execPath, ['--import', 'tsx', MASTER], {
    env: { ...process.env, MASTER: name, TTL: String(TTL) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const listening = /listening on (\d+)$/.exec(line);
      if (listening) resolve({ name, child, port: Number(listening[1]), up: true });
    });
  });
}

const masters = await Promise.all(['m1', 'm2', 'm3'].map(startMaster));
// However this script ends, it leaves no master behind.
process.once('exit', () => masters.forEach((m) => m.child.kill('SIGKILL')));
const claims: Claim[] = [];
const t0 = performance.now();
let sending = true;

/** Workers' claims, one every 10 ms, round robin over the masters that are up (a load balancer's view). */
const workers = (async () => {
  for (let n = 0; sending; n++) {
    const up = masters.filter((m) => m.up);
    const target = up[n % up.length]!;
    const at = performance.now() - t0;
    try {
      const res = await fetch(`http://127.0.0.1:${target.port}/claim?worker=w${n % 7}`, {
        method: 'POST',
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await res.json()) as { item?: number; master?: string; token?: string };
      claims.push(res.ok ? { at, ok: true, ...body } : { at, ok: false });
    } catch {
      claims.push({ at, ok: false });
    }
    await sleep(10);
  }
})();

/** Gives up on a step that takes longer than any fault here should: the demo fails instead of hanging. */
function tooLong(since: number, what: string): void {
  if (performance.now() - since > 30_000)
    throw new Error(`no claim served for 30 s while waiting for ${what}`);
}

/** The master that served the latest claim: the leader, as the workers see it. */
async function currentLeader(): Promise<Master> {
  for (const since = performance.now(); ; tooLong(since, 'a leader')) {
    const last = claims.findLast((c) => c.ok);
    const leader = masters.find((m) => m.up && m.name === last?.master);
    if (leader) return leader;
    await sleep(20);
  }
}

/** Milliseconds from `at` until the first claim served after it. */
async function gapAfter(at: number): Promise<number> {
  for (const since = performance.now(); ; tooLong(since, 'service after a fault')) {
    const served = claims.find((c) => c.ok && c.at > at);
    if (served) return Math.round(served.at - at);
    await sleep(20);
  }
}

await sleep(1_500);
const first = await currentLeader();
const killedAt = performance.now() - t0;
first.up = false;
first.child.kill('SIGKILL');
console.log(`killed the leader ${first.name}; served again after ${await gapAfter(killedAt)} ms`);

await sleep(1_500);
const second = await currentLeader();
const pausedAt = performance.now() - t0;
second.up = false;
second.child.kill('SIGSTOP');
console.log(`paused the leader ${second.name}; served again after ${await gapAfter(pausedAt)} ms`);
await sleep(TTL * 1_000 + 1_000);
second.child.kill('SIGCONT');
second.up = true;
await sleep(1_500);
sending = false;
await workers;

const served = claims.filter((c) => c.ok);
const owners = new Map<number, Claim[]>();
for (const c of served) owners.set(c.item!, [...(owners.get(c.item!) ?? []), c]);
const twice = [...owners.values()].filter((list) => list.length > 1);
console.log(
  `claims: ${claims.length} sent, ${served.length} served, ${claims.length - served.length} refused`,
);
console.log(`items handed out twice: ${twice.length}`);
for (const list of twice)
  console.log(`  item ${list[0]!.item}: ${list.map((c) => `${c.master}@${c.token}`).join(', ')}`);

for (const m of masters)
  if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGTERM');
await Promise.all(
  masters.map((m) =>
    m.child.exitCode !== null || m.child.signalCode !== null
      ? undefined
      : new Promise((resolve) => m.child.once('exit', resolve)),
  ),
);
process.exitCode = twice.length === 0 ? 0 : 1;
