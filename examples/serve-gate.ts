// An HTTP service whose leader serves every request: followers pass theirs on to it.
// Run two or three copies on different ports; ask any of them; stop the leader and ask again.
//   PORT=8081 node --import tsx examples/serve-gate.ts
//   PORT=8082 node --import tsx examples/serve-gate.ts
//   curl -i http://127.0.0.1:8082/jobs      (answered by the leader, with its Ballot-Token header)
// BALLOT_BACKEND=memory, postgres (with DATABASE_URL) or zookeeper as in elector-service.ts.
import http from 'node:http';
import { backendFromEnv, LeaderElector, leaderGate } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();
const port = Number(process.env.PORT ?? 8081);

// #region readme
const elector = new LeaderElector({
  backend,
  election: 'api',
  value: `node-${port}`,
  ttl: 5,
  advertise: { http: `http://127.0.0.1:${port}` }, // where followers send what they receive
});
// Made right after the elector, so it hears the first leader event. 'redirect' answers 307 instead.
const gate = leaderGate(elector, { mode: 'proxy' });

/** The application: it runs only on the leader, whichever member the client asked. */
function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ servedBy: `node-${port}`, path: req.url }));
}

const server = http.createServer((req, res) => gate(req, res, () => app(req, res)));
server.listen(port, '127.0.0.1');
// #endregion

server.once('listening', () => console.log(`listening on http://127.0.0.1:${port}`));
elector.on('elected', (term) => console.log(`elected: serving with token ${term.token}`));
elector.on('leader', (change) => {
  if (change.kind === 'leader') console.log(`leader: ${change.value} at ${change.advertise?.http ?? '?'}`);
});
elector.on('retrying', (err) => console.error(`campaign failed, retrying: ${err.message}`));

// Stop in this order: leave the election (a follower takes over now), finish the requests in
// flight, then close the gate's connections to the leader and the backend.
const stop = (signal: NodeJS.Signals) => {
  console.log(`${signal}: stopping`);
  void (async () => {
    await elector.stop();
    await new Promise((resolve) => server.close(resolve));
    await gate.close();
    await backend.close();
    console.log('stopped');
  })();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
