/**
 * Forwarding overhead (issue 14): what a request sent to a follower costs over the same request sent to
 * the leader, when the follower's leaderGate proxies it; with leaderFetch and a redirect beside them.
 */
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { etcd, leaderFetch } from '../src/index.js';
import { startEtcd } from '../test/fixtures/etcd.js';
import { spawnWorker, type Worker } from '../test/fixtures/processes.js';
import { ms, type Outcome, type Result, type RunOptions } from './report.js';
import { summarize } from './stats.js';

const SCENARIO = 'forwarding';
const WORKER = fileURLToPath(new URL('../test/workers/gate-server.ts', import.meta.url));
const WARMUP = 200;
/** Requests per series and per round of the run's --rounds (200 full: 2,000 samples a series). */
const PER_ROUND = 10;

/** What the forwarding table measures and how to read it, for docs/benchmarks.md. */
export const FORWARD_METHOD = `
Two service processes on one etcd election, each a \`node:http\` server behind \`leaderGate\`: the leader
and one follower in proxy mode (test/workers/gate-server.ts; its app answers a ~400-byte JSON echo). The
client is this process, on one keep-alive undici connection per target, one request at a time; the
series are interleaved request by request, so every series sees the same machine load. A sample is the
time from sending a GET to having read the whole answer. "direct" goes to the leader's own port (the
gate only checks \`isLeader()\` and sets the token header); "via a follower" goes to the follower, which
streams it to the leader over its pooled connection and the answer back; "leaderFetch" sends to the
leader's advertised address, known from an observer, through \`fetch\`; "redirect" is only the
follower's 307 answer, not the request that follows it. ${WARMUP} unmeasured requests per series first.
`;

/** Runs the forwarding scenario on a fresh etcd. */
export async function forwardScenario(opts: RunOptions): Promise<Outcome> {
  const node = await startEtcd({ name: 'bench-forward' });
  const workers: Worker[] = [];
  const agent = new Agent({ connections: 1, keepAliveTimeout: 10_000 });
  const backend = etcd({ endpoints: [node.endpoint] });
  const call = leaderFetch(backend, 'bench-forward', { waitForLeader: 10_000 });
  try {
    const join = async (name: string) => {
      const worker = spawnWorker(WORKER, [], {
        ENDPOINTS: node.endpoint,
        ELECTION: 'bench-forward',
        NAME: name,
      });
      workers.push(worker);
      const up = await worker.waitFor((m) => m['event'] === 'listening', 20_000);
      return { worker, port: Number(up['proxyPort']), redirectPort: Number(up['redirectPort']) };
    };
    const leader = await join('leader');
    await leader.worker.waitFor((m) => m['event'] === 'elected', 15_000);
    const follower = await join('follower');
    await follower.worker.waitFor((m) => m['event'] === 'leader' && m['value'] === 'leader', 15_000);

    const get = async (url: string, expect: number) => {
      const t0 = performance.now();
      const answer = await request(url, { dispatcher: agent });
      await answer.body.text();
      const took = performance.now() - t0;
      if (answer.statusCode !== expect)
        throw new Error(`GET ${url}: ${answer.statusCode}, expected ${expect}`);
      return took;
    };
    const series = [
      { name: 'direct to the leader', run: () => get(`http://127.0.0.1:${leader.port}/x`, 200) },
      { name: 'via a follower (proxy)', run: () => get(`http://127.0.0.1:${follower.port}/x`, 200) },
      {
        name: 'leaderFetch (to the leader, from the observer)',
        run: async () => {
          const t0 = performance.now();
          const response = await call('/x');
          await response.text();
          if (response.status !== 200) throw new Error(`leaderFetch: ${response.status}`);
          return performance.now() - t0;
        },
      },
      {
        name: "a follower's 307 (redirect mode)",
        run: () => get(`http://127.0.0.1:${follower.redirectPort}/x`, 307),
      },
    ];
    const samples = series.map(() => [] as number[]);
    for (let i = 0; i < WARMUP; i++) for (const s of series) await s.run();
    const count = opts.rounds * PER_ROUND;
    for (let i = 0; i < count; i++) for (const [k, s] of series.entries()) samples[k]!.push(await s.run());

    const direct = summarize(samples[0]!);
    const results: Result[] = series.map((s, k) => {
      const summary = summarize(samples[k]!);
      return {
        scenario: SCENARIO,
        name: s.name,
        ...summary,
        extra: {
          'p50 / direct p50': (summary.p50 / direct.p50).toFixed(2),
          'p99 / direct p99': (summary.p99 / direct.p99).toFixed(2),
          'p50 added (ms)': ms(summary.p50 - direct.p50),
        },
      };
    });
    return { results, targets: [] };
  } finally {
    for (const worker of workers) {
      worker.send({ cmd: 'stop' });
      await Promise.race([worker.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      worker.kill('SIGKILL');
    }
    await call.close();
    await backend.close();
    await agent.close();
    await node.stop();
  }
}
