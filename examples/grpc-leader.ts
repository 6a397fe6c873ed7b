// gRPC to the leader: each member advertises its gRPC address with its candidacy; a client follows
// the election with a session-less observer and keeps one channel to whoever leads now.
// Two members ("alpha", "beta") and a client run in this one process, so it needs no setup:
//   BALLOT_BACKEND=memory node --import tsx examples/grpc-leader.ts
//   node --import tsx examples/grpc-leader.ts                        (etcd at 127.0.0.1:2379)
//   BALLOT_BACKEND=postgres DATABASE_URL=postgres://... node --import tsx examples/grpc-leader.ts
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { backendFromEnv, LeaderElector, type Backend, type LeaderChange } from 'ballot';

// $BALLOT_BACKEND picks the backend: etcd (the default), memory, postgres or zookeeper, each
// connecting as its own tools do ($ETCDCTL_ENDPOINTS, $DATABASE_URL or PG*, $ZOOKEEPER_CONNECT).
const backend = backendFromEnv();
const election = 'grpc-api';

// A one-method service without a .proto file, JSON on the wire, so the example stays one file.
const json = {
  serialize: (value: object) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Record<string, string>,
};
const whoService = {
  whoAmI: {
    path: '/example.Who/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} satisfies grpc.ServiceDefinition;
const WhoClient = grpc.makeGenericClientConstructor(whoService, 'Who');
type Who = InstanceType<typeof WhoClient> & {
  whoAmI(
    request: object,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<Record<string, string>>,
  ): void;
};

/** A member: a gRPC server that answers only while its elector leads (like leaderGate does for HTTP). */
async function member(name: string) {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  const elector = new LeaderElector({
    backend,
    election,
    value: name,
    ttl: 5,
    advertise: { grpc: `127.0.0.1:${port}` },
  });
  server.addService(whoService, {
    whoAmI: (_call: unknown, reply: grpc.sendUnaryData<Record<string, string>>) => {
      const term = elector.isLeader() ? elector.term : undefined;
      // A member that no longer leads says so; the client waits for the next leader event and retries.
      if (!term) return reply({ code: grpc.status.UNAVAILABLE, details: `${name} does not lead` });
      reply(null, { name, token: term.token.toString() });
    },
  });
  return { name, elector, stop: async () => (await elector.stop(), server.forceShutdown()) };
}

// #region grpc
/** Keeps a gRPC client pointed at the election's leader, from its advertised `grpc` address. */
class LeaderChannel {
  private client: Who | undefined;
  private target: string | undefined;
  private latest: LeaderChange | undefined;
  private readonly changed = new Set<() => void>();
  private readonly stop = new AbortController();
  private readonly following: Promise<void>;

  constructor(source: Backend, name: string) {
    this.following = (async () => {
      try {
        for await (const change of source.observe(name, { signal: this.stop.signal })) {
          this.latest = change;
          const target = change.kind === 'leader' ? change.advertise?.grpc : undefined;
          if (target !== this.target) {
            this.client?.close(); // calls in flight on it fail with CANCELLED or UNAVAILABLE
            this.client =
              target === undefined
                ? undefined
                : (new WhoClient(target, grpc.credentials.createInsecure()) as Who);
            this.target = target;
          }
          for (const wake of [...this.changed]) wake();
        }
      } catch (err) {
        if (!this.stop.signal.aborted) throw err;
      }
    })();
  }

  /**
   * Calls WhoAmI on the leader. UNAVAILABLE is retried, up to 5 tries in about half a second: the
   * member no longer leads (the next leader event re-points the channel), or the observer already
   * names a member whose own elector has not yet heard that it won.
   */
  async whoAmI(): Promise<Record<string, string>> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.leaderClient(5000);
      try {
        return await this.call(client);
      } catch (err) {
        // Any error after the leader changed: the old channel was closed under the call.
        const retry = (err as grpc.ServiceError).code === grpc.status.UNAVAILABLE || this.client !== client;
        if (!retry || attempt === 5) throw err;
        if (this.client === client) await sleep(50 * attempt);
      }
    }
  }

  /** The client for the current leader, waiting up to `ms` for one. */
  private async leaderClient(ms: number): Promise<Who> {
    const deadline = Date.now() + ms;
    while (!this.client) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no leader with a grpc address in ${ms} ms (last seen: ${this.latest?.kind})`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.changed.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.changed.add(done);
      });
    }
    return this.client;
  }

  private call(client: Who): Promise<Record<string, string>> {
    return new Promise((resolve, reject) =>
      client.whoAmI({}, { deadline: Date.now() + 2000 }, (err, answer) =>
        err ? reject(err) : resolve(answer!),
      ),
    );
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.following;
    this.client?.close();
  }
}
// #endregion

const alpha = await member('alpha');
await new Promise<void>((resolve) => alpha.elector.once('elected', () => resolve()));
const beta = await member('beta');
const channel = new LeaderChannel(backend, election);
try {
  const first = await channel.whoAmI();
  console.log(`WhoAmI answered by ${first.name} with token ${first.token}`);
  await alpha.stop(); // alpha resigns; beta is elected and the observer points the channel at beta
  const second = await channel.whoAmI();
  console.log(`WhoAmI answered by ${second.name} with token ${second.token}`);
} finally {
  await channel.close();
  await alpha.stop();
  await beta.stop();
  await backend.close();
}
