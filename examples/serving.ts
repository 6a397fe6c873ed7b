// Serving behind an election: health and readiness for the orchestrator, Prometheus metrics, and
// structured logs, on one operations port.
//   node --import tsx examples/serving.ts       (or BALLOT_BACKEND=memory: no server; or postgres, zookeeper)
//   then: curl 127.0.0.1:9100/healthz /readyz /metrics    (OPS_PORT=0 picks a free port)
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backendFromEnv, ballotMetrics, LeaderElector, serveHandler, type Logger } from 'ballot';
import { Registry } from 'prom-client';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();

// #region readme
// Any object with debug/info/warn/error taking (fields, msg) will do: pino() as it is, or this.
const log = (level: string) => (fields: object, msg: string) =>
  console.log(JSON.stringify({ level, msg, ...fields }));
const logger: Logger = { debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };

const elector = new LeaderElector({ backend, election: 'api', value: 'node-1', ttl: 5, logger });
// prom-client is an optional peer dependency: it is loaded here, and only here.
const { register } = await ballotMetrics(elector, { register: new Registry() });

// /healthz: 503 when this process leads but its renewals fail or its deadline is near (restart it);
// /readyz: 200 only on the leader (route traffic to it alone); /metrics: Prometheus text.
const ops = createServer(serveHandler(elector, { metrics: register }));
ops.listen(Number(process.env.OPS_PORT ?? 9100), '127.0.0.1');
// #endregion

for await (const term of elector.terms()) {
  console.log(`leading with token ${term.token}`);
  break;
}
if (!ops.listening) await once(ops, 'listening');
const base = `http://127.0.0.1:${(ops.address() as AddressInfo).port}`;
for (const path of ['/healthz', '/readyz']) {
  const res = await fetch(base + path);
  const body = (await res.json()) as { role: string };
  console.log(`${path} ${res.status} ${body.role}`);
}
const text = await (await fetch(`${base}/metrics`)).text();
console.log(text.split('\n').find((line) => line.startsWith('ballot_is_leader')));
await elector.stop();
ops.close();
await backend.close();
