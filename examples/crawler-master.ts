// One master of a crawler. Run three: they elect a leader, the leader hands out work items to
// workers under guarded writes, and the followers forward workers' requests to it.
//   ETCDCTL_ENDPOINTS=127.0.0.1:2379 MASTER=m1 node --import tsx examples/crawler-master.ts
// POST /claim?worker=w1 answers {"item":17,"master":"m1","token":"42"}; examples/crawler-demo.ts
// runs three masters and a stream of workers' claims, kills and pauses the leader, and checks.
import http from 'node:http';
import { backendFromEnv, LeaderElector, leaderGate, type Term } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();
const master = process.env.MASTER ?? 'm1';
const ttl = Number(process.env.TTL ?? 2);
const ITEMS = 'state/crawler/'; // outside the election's own keys ("crawler/...")

const server = http.createServer();
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
const { port } = server.address() as { port: number };

// #region readme
const elector = new LeaderElector({
  backend,
  election: 'crawler',
  value: master,
  ttl,
  advertise: { http: `http://127.0.0.1:${port}` }, // where followers send what only the leader serves
});
const gate = leaderGate(elector, { mode: 'proxy' });
server.on('request', (req, res) => gate(req, res, () => void claim(req, res)));
// #endregion
console.log(`${master} listening on ${port}`);
elector.on('elected', (term) => console.log(`${master} elected with token ${term.token}`));
elector.on('deposed', (term, reason) => console.log(`${master} term ${term.token} ended (${reason})`));
elector.on('error', (err) => console.error(`${master}: ${err.message}`));

/** The next item to hand out, read once per term: a new leader sees every write its predecessors committed. */
let cursor: { term: Term; next: number } | undefined;
/** Claims run one at a time, so each reads the cursor the previous one left. */
let queue: Promise<unknown> = Promise.resolve();

/** Runs only on the leader (the gate forwards everything else): hands out the next item. */
async function claim(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const worker = new URL(req.url ?? '/', 'http://x').searchParams.get('worker');
  if (req.method !== 'POST' || !worker) return reply(res, 404, { error: 'POST /claim?worker=<name>' });
  const done = queue.then(() => assign(worker));
  queue = done.catch(() => undefined);
  try {
    const item = await done;
    if (item === undefined) return reply(res, 503, { error: 'no longer the leader' });
    reply(res, 200, { item, master, token: String(cursor?.term.token) });
  } catch (err) {
    reply(res, 503, { error: (err as Error).message });
  }
}

/** Assigns the next item to `worker` in one guarded write; undefined once the term is over. */
async function assign(worker: string): Promise<number | undefined> {
  const term = elector.term;
  if (!term) return undefined;
  if (cursor?.term !== term) {
    const read = await term.guard((tx) => tx.get(`${ITEMS}next`));
    if (!read.committed) return undefined;
    cursor = { term, next: Number(read.values[0] ?? 0) };
  }
  const item = cursor.next;
  const wrote = await term.guard((tx) =>
    tx.put(`${ITEMS}next`, String(item + 1)).put(`${ITEMS}item/${item}`, `${worker} ${term.token}`),
  );
  if (!wrote.committed) return undefined;
  cursor.next = item + 1;
  return item;
}

function reply(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    void (async () => {
      await elector.stop();
      await gate.close();
      server.close();
      await backend.close();
      console.log(`${master} stopped`);
    })();
  });
