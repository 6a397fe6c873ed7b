/**
 * The chaos lab: a 3-member etcd cluster on loopback (or one PostgreSQL server, or a 3-server
 * ZooKeeper ensemble), a pool of recorder workers (each behind its own fault proxies), and Trial,
 * the handle a scenario uses to join candidates, inject faults and mark heals. A trial's record
 * is what the checker judges.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { electionPrefix, escapeName } from '../../src/backends/etcd/keys.js';
import { startEtcdCluster, type EtcdCluster } from '../fixtures/etcd.js';
import { EtcdHttp, KeyHistory, type Kv } from '../fixtures/etcd-history.js';
import { startPostgres, type PostgresServer, type ShutdownMode } from '../fixtures/postgres.js';
import { spawnIsolatedWorker, type IsolatedWorker } from '../fixtures/isolated-worker.js';
import { startZookeeperEnsemble, type ZookeeperEnsemble } from '../fixtures/zookeeper.js';
import type { JsonObject } from '../fixtures/processes.js';
import { deriveSeed, Rng, type Seed } from '../fixtures/rng.js';
import {
  LIVENESS_SLACK_MS,
  type Check,
  type HealPoint,
  type MemberFault,
  type TermRecord,
  type TrialRecord,
  type Trigger,
  type WriteRecord,
} from './checker.js';
import { PgHistory, pgCleanup, pgLine, preparePostgres } from './pg-store.js';
import { ZkHistory, ZkProbe } from './zk-store.js';
import { TxnLogs } from './zk-txnlog.js';
import {
  applicationNameOf,
  monotonicNow as now,
  type Backend as StoreKind,
  type CandidateMode,
  type CandidateSpec,
  type CandidateStatus,
  type Command,
  type WorkerEvent,
} from './protocol.js';

const RECORDER = fileURLToPath(new URL('./recorder.ts', import.meta.url));
/**
 * How long a ZooKeeper ensemble may take to have a leader with a quorum again after its leader died:
 * an election, then followers syncing within initLimit × tickTime (5 s here), retried if it times
 * out; 15 s was seen to pass on a loaded 2-core machine. Raft (etcd) keeps its 15 s.
 */
const ZK_QUORUM_MS = 30_000;
/** deriveSeed index of the cast's random stream (any index the scenarios do not use as a seed). */
const CAST_STREAM = 0xca57;

/** Where every key of one trial lives: `chaos/<run>/<trial>/`, escaped as election names are. */
function trialPrefix(runId: string, trial: string): string {
  return escapeName(`chaos/${runId}/${trial}/`);
}

/** On ZooKeeper a trial is a subtree: its election is a path, as a Curator LeaderLatch's is. */
function zkTrialPath(runId: string, trial: string): string {
  return `/chaos/${runId}/${trial}`;
}

/** Session timeouts (ms) the lab's ensemble grants: any TTL from 1 s to 30 s, as asked. */
const ZK_SESSION_LIMITS = { minSessionTimeout: 1_000, maxSessionTimeout: 30_000 };

/** Settings shared by every trial of a lab. */
export interface LabOptions {
  /** Recorder processes kept ready (at least 3; the burst spreads over all of them). */
  workers?: number;
  /** Session TTL of every candidate, whole seconds. */
  ttl?: number;
  /** Per-call deadline of the candidates' etcd client, ms. */
  callTimeout?: number;
  /** Pause between a leader's guarded writes, ms. */
  writeEveryMs?: number;
  /** Share of candidates cast on etcd's v3election/v3lock services (mode 'service'); default 0. */
  serviceShare?: number;
  /** What the candidates elect on: a 3-member etcd cluster (default), one PostgreSQL server, or a 3-server ZooKeeper ensemble. */
  backend?: StoreKind;
}

/** A scenario step that did not happen in time: a liveness failure, or the harness's own. */
export class StepTimeout extends Error {}

/** The cluster (or server) and the worker pool, shared by every trial of a run. */
export class Lab {
  readonly backend: StoreKind;
  readonly #cluster: EtcdCluster | undefined;
  readonly #http: EtcdHttp | undefined;
  readonly #pg: PostgresServer | undefined;
  readonly #zk: ZookeeperEnsemble | undefined;
  readonly #zkProbe: ZkProbe | undefined;
  readonly #zkLogs: TxnLogs | undefined;
  readonly ttl: number;
  readonly callTimeout: number;
  readonly writeEveryMs: number;
  readonly serviceShare: number;
  /** Distinguishes this run's keys from any other's in the same cluster. */
  readonly runId = randomBytes(3).toString('hex');
  readonly #slots: Promise<IsolatedWorker>[];
  #trials = 0;

  private constructor(store: EtcdCluster | PostgresServer | ZookeeperEnsemble, options: LabOptions) {
    this.backend = options.backend ?? 'etcd';
    if ('nodes' in store) {
      this.#cluster = store;
      this.#http = new EtcdHttp(store.endpoints);
    } else if ('servers' in store) {
      this.#zk = store;
      this.#zkProbe = new ZkProbe(store.connect);
      this.#zkLogs = new TxnLogs(store.servers.map((s) => join(s.dir, 'data')));
    } else this.#pg = store;
    this.ttl = options.ttl ?? 2;
    this.callTimeout = options.callTimeout ?? 1_000;
    this.writeEveryMs = options.writeEveryMs ?? 50;
    this.serviceShare = options.serviceShare ?? 0;
    this.#slots = Array.from({ length: Math.max(3, options.workers ?? 4) }, () => this.#spawn());
  }

  /** Starts the cluster (or server) and the workers; everything is stopped again if any of it fails. */
  static async start(options: LabOptions = {}): Promise<Lab> {
    let store: EtcdCluster | PostgresServer | ZookeeperEnsemble;
    if (options.backend === 'zookeeper') store = await startZookeeperEnsemble(3, ZK_SESSION_LIMITS);
    else if (options.backend === 'postgres') {
      // The fixture's default, synchronous_commit = off, acknowledges commits whose WAL an immediate
      // shutdown then loses: a term (or a guarded write) a candidate was told it holds would vanish,
      // which no election can survive (nor promises to). fsync stays off: the lab crashes processes,
      // not the machine, and the kernel keeps what was written.
      const server = await startPostgres({ settings: { synchronous_commit: 'on' } });
      try {
        await preparePostgres(server);
      } catch (err) {
        await server.stop();
        throw err;
      }
      store = server;
    } else store = await startEtcdCluster(3);
    const lab = new Lab(store, options);
    try {
      await Promise.all(lab.#slots);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** The etcd cluster; only in an etcd lab. */
  get cluster(): EtcdCluster {
    if (!this.#cluster) throw new Error(`this lab runs ${this.backend}, not etcd`);
    return this.#cluster;
  }

  /** etcd's JSON gateway, read apart from ballot; only in an etcd lab. */
  get http(): EtcdHttp {
    if (!this.#http) throw new Error(`this lab runs ${this.backend}, not etcd`);
    return this.#http;
  }

  /** The PostgreSQL server; only in a PostgreSQL lab. */
  get pg(): PostgresServer {
    if (!this.#pg) throw new Error(`this lab runs ${this.backend}, not PostgreSQL`);
    return this.#pg;
  }

  /** The ZooKeeper ensemble; only in a ZooKeeper lab. */
  get zk(): ZookeeperEnsemble {
    if (!this.#zk) throw new Error(`this lab runs ${this.backend}, not ZooKeeper`);
    return this.#zk;
  }

  /** The harness's own ZooKeeper client; only in a ZooKeeper lab. */
  get zkProbe(): ZkProbe {
    if (!this.#zkProbe) throw new Error(`this lab runs ${this.backend}, not ZooKeeper`);
    return this.#zkProbe;
  }

  /** The ensemble's transaction logs, read on across trials; only in a ZooKeeper lab. */
  get zkLogs(): TxnLogs {
    if (!this.#zkLogs) throw new Error(`this lab runs ${this.backend}, not ZooKeeper`);
    return this.#zkLogs;
  }

  /** How many endpoints a worker can be given (etcd members, ZooKeeper servers; one PostgreSQL server). */
  get members(): number {
    return this.#cluster?.nodes.length ?? this.#zk?.servers.length ?? 1;
  }

  /** Number of worker slots. */
  get size(): number {
    return this.#slots.length;
  }

  /** A live worker for `slot`, waiting for a replacement to start if the last one died. */
  async worker(slot: number): Promise<IsolatedWorker> {
    const current = this.#slots[slot];
    if (!current) throw new Error(`no worker slot ${slot}`);
    const worker = await current;
    if (!worker.dead) return worker;
    this.respawn(slot);
    return (await this.#slots[slot]) as IsolatedWorker;
  }

  /** Replaces the slot's worker (after a kill or a hang), closing the old one; the new one starts now. */
  respawn(slot: number): void {
    const old = this.#slots[slot];
    this.#slots[slot] = (async () => {
      await old?.then((w) => w.close()).catch(() => undefined);
      return this.#spawn();
    })();
  }

  /** A name for the next trial, unique within the run. */
  nextTrialName(scenario: string): string {
    return `t${++this.#trials}-${scenario}`;
  }

  /** Members back up and unpaused; used between trials so a failed one cannot poison the next. */
  async restoreCluster(): Promise<boolean> {
    if (this.#pg) return this.#restorePostgres(this.#pg);
    const nodes = this.#zk?.servers ?? this.cluster.nodes;
    let changed = false;
    const down = nodes.filter((n) => !n.running);
    for (const node of nodes) {
      if (node.running) {
        try {
          node.resume();
        } catch {
          // Exited meanwhile; restarted below on the next pass.
        }
      }
    }
    if (down.length > 0) {
      changed = true;
      await Promise.all(down.map((n) => n.restart()));
    }
    if (this.#zk) await this.#zk.leader(ZK_QUORUM_MS);
    else await this.cluster.leaderIndex(15_000);
    return changed;
  }

  /** Closes every worker and stops the cluster (or server). */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.then((w) => w.close()).catch(() => undefined)));
    await this.#cluster?.stop();
    await this.#pg?.stop();
    await this.#zkProbe?.close();
    await this.#zk?.stop();
  }

  /** The server running and unpaused; a restart if it is down. Waits until it answers. */
  async #restorePostgres(server: PostgresServer): Promise<boolean> {
    let changed = false;
    if (server.running) server.resume();
    else {
      await server.restart('fast');
      changed = true;
    }
    const end = now() + 15_000;
    for (;;) {
      try {
        await server.query('SELECT 1');
        return changed;
      } catch (err) {
        if (now() > end) throw err;
        await sleep(100);
      }
    }
  }

  async #spawn(): Promise<IsolatedWorker> {
    const pg = this.#pg;
    const zk = this.#zk;
    const iw = pg
      ? await spawnIsolatedWorker(RECORDER, [`${pg.host}:${pg.port}`], {
          BACKEND: 'postgres',
          PG_URL: pg.url('app'),
        })
      : zk
        ? await spawnIsolatedWorker(
            RECORDER,
            zk.servers.map((s) => s.connect),
            { BACKEND: 'zookeeper' },
          )
        : await spawnIsolatedWorker(RECORDER, this.cluster.endpoints);
    try {
      await iw.worker.waitFor((m) => m['ev'] === 'ready', 30_000);
    } catch (err) {
      await iw.close();
      throw err;
    }
    return iw;
  }
}

interface Participant {
  slot: number;
  iw: IsolatedWorker;
  /** Index of the first message of this trial in the worker's message list. */
  cursor: number;
  cands: string[];
  killedAt: number | null;
}

/** A leader as reported by the candidates. */
export interface LeaderInfo {
  cand: string;
  token: bigint;
  slot: number;
  startedAt: number;
}

/** One run of one scenario: the candidates, the faults, the heals and everything recorded. */
export class Trial {
  readonly lab: Lab;
  readonly name: string;
  readonly scenario: string;
  readonly prefix: string;
  readonly election: string;
  readonly entryPrefix: string;
  readonly writeKey: string;
  readonly startedAt = now();
  /** Human-readable timeline, printed with a failure. */
  readonly timeline: string[] = [];
  readonly heals: HealPoint[] = [];
  readonly triggers: Trigger[] = [];
  readonly failures: { check: Check; message: string }[] = [];
  /** When a paused raft leader was resumed (the checker's early-revocation windows start there). */
  readonly resumes: number[] = [];
  /** Every single-member fault, for the recovery figures. */
  readonly memberFaults: MemberFault[] = [];
  /** Members paused now, by index, with whether each was the raft leader when paused, and its fault. */
  readonly #pausedMembers = new Map<number, { raftLeader: boolean; fault: MemberFault }>();
  /** Members killed and not restarted yet, by index. */
  readonly #killedMembers = new Map<number, MemberFault>();
  #leftAt: number | undefined;
  readonly #participants = new Map<number, Participant>();
  readonly #history: KeyHistory | PgHistory | ZkHistory;
  #statusReq = 0;
  readonly #specs = new Map<string, CandidateSpec>();
  /** Draws the cast (which etcd mode each candidate runs), apart from the scenario's rng. */
  readonly #cast: Rng;
  /** Share of candidates cast on the service mode: the lab's, unless the trial was opened with its own. */
  #serviceShare: number;
  /**
   * On ZooKeeper, whether every candidate of the trial holds a Mutex: lock nodes and latch nodes
   * under one path form two lines there (as InterProcessMutex's and LeaderLatch's do), so a trial
   * mixing them would have two holders at once by design, not by a bug.
   */
  readonly #allMutex: boolean;

  private constructor(
    lab: Lab,
    scenario: string,
    history: (t: Trial) => KeyHistory | PgHistory | ZkHistory,
    name: string,
    seed: Seed,
  ) {
    this.lab = lab;
    // A stream of its own, so seeds recorded before service-mode candidates joined replay the same faults.
    this.#cast = new Rng(deriveSeed(seed, CAST_STREAM));
    this.#serviceShare = lab.serviceShare;
    this.#allMutex = lab.backend === 'zookeeper' && this.#cast.chance(0.25);
    this.scenario = scenario;
    this.name = name;
    if (lab.backend === 'zookeeper') {
      this.prefix = zkTrialPath(lab.runId, name);
      this.election = `${this.prefix}/e`;
      this.entryPrefix = `${this.election}/`;
      this.writeKey = `${this.prefix}/w`;
    } else {
      // The election's name has '/'s, so its entries live under its escaped name (see keys.ts);
      // trialPrefix is escaped the same way, so it holds them and the fenced key, in one history.
      this.prefix = trialPrefix(lab.runId, name);
      this.election = `chaos/${lab.runId}/${name}/e`;
      this.entryPrefix = electionPrefix(this.election);
      this.writeKey = `${this.prefix}fenced`;
    }
    this.#history = history(this);
  }

  /** Opens a trial; its history starts at the current revision, before any candidate exists. */
  static async open(lab: Lab, scenario: string, seed: Seed, serviceShare?: number): Promise<Trial> {
    const trial = await Trial.#open(lab, scenario, seed);
    if (serviceShare !== undefined) trial.#serviceShare = serviceShare;
    return trial;
  }

  static async #open(lab: Lab, scenario: string, seed: Seed): Promise<Trial> {
    const name = lab.nextTrialName(scenario);
    if (lab.backend === 'zookeeper') {
      // The history is the servers' logs, filtered by the trial's paths: no position to take.
      const trial = new Trial(
        lab,
        scenario,
        (t) => new ZkHistory(lab.zkLogs, t.election, t.writeKey),
        name,
        seed,
      );
      await lab.zkProbe.prepare(trial.writeKey);
      return trial;
    }
    if (lab.backend === 'postgres') {
      const after = await PgHistory.position(lab.pg);
      return new Trial(
        lab,
        scenario,
        (t) => new PgHistory(lab.pg, name, t.election, t.entryPrefix, t.writeKey, after),
        name,
        seed,
      );
    }
    const from = (await lab.http.revision()) + 1n;
    const history = new KeyHistory(lab.http, trialPrefix(lab.runId, name), from);
    return new Trial(lab, scenario, () => history, name, seed);
  }

  /** Liveness bound: TTL + 2 s. */
  get boundMs(): number {
    return this.lab.ttl * 1000 + LIVENESS_SLACK_MS;
  }

  /** Adds a line to the timeline, stamped relative to the trial's start. */
  mark(what: string): void {
    this.timeline.push(`+${(now() - this.startedAt).toFixed(0).padStart(6)} ms  ${what}`);
  }

  /**
   * From now on a leader must exist within TTL + 2 s; `exclude` names the faulty candidates that do
   * not count until the next heal point without exclusions (which ends their fault).
   */
  healed(label: string, exclude: string[] = []): void {
    const at = now();
    if (exclude.length === 0) for (const h of this.heals) if (h.exclude.length > 0) h.until ??= at;
    this.heals.push({ at, label, exclude });
    this.mark(`heal point: ${label}${exclude.length ? ` (not counting ${exclude.join(', ')})` : ''}`);
  }

  /** Leadership is expected to move away from `from` now; the handover time is measured from here. */
  trigger(label: string, from: string | null): void {
    this.triggers.push({ at: now(), label, from });
  }

  /** Starts candidates in the worker of `slot`; `order` is the etcd endpoint order (default random). */
  async join(
    slot: number,
    cands: CandidateSpec[],
    opts: { order?: number[]; rng?: Rng } = {},
  ): Promise<void> {
    const iw = await this.lab.worker(slot);
    const members = Array.from({ length: this.lab.members }, (_, i) => i);
    const order = opts.order ?? (opts.rng ? opts.rng.shuffle(members) : members);
    const existing = this.#participants.get(slot);
    const p: Participant = existing ?? {
      slot,
      iw,
      cursor: iw.worker.messages.length,
      cands: [],
      killedAt: null,
    };
    p.cands.push(...cands.map((c) => c.id));
    for (const c of cands) this.#specs.set(c.id, c);
    this.#participants.set(slot, p);
    const since = iw.worker.messages.length;
    this.#send(p, {
      cmd: 'join',
      trial: this.name,
      election: this.election,
      writeKey: this.writeKey,
      ttl: this.lab.ttl,
      callTimeout: this.lab.callTimeout,
      writeEveryMs: this.lab.writeEveryMs,
      order,
      cands,
    });
    await iw.worker.waitFor((m) => m['ev'] === 'joined' && m['trial'] === this.name, 10_000, { since });
    this.mark(
      `join ${cands.length === 1 ? `${cands[0]?.id} (${cands[0]?.mode}, ${cands[0]?.etcd})` : `${cands.length} candidates`} ` +
        `in w${slot} (endpoints ${order.join(',')})`,
    );
  }

  /** One candidate per slot 0..n-1, each with a random API (LeaderElector most of the time). */
  async joinEach(n: number, rng: Rng, opts: { order?: number[] } = {}): Promise<string[]> {
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    const specs = ids.map((id, i) => this.cast(id, i, rng));
    const members = Array.from({ length: this.lab.members }, (_, i) => i);
    const orders = ids.map(() => opts.order ?? rng.shuffle(members));
    await Promise.all(
      ids.map((id, i) => this.join(i, [specs[i] as CandidateSpec], { order: orders[i] as number[] })),
    );
    return ids;
  }

  /**
   * Casts candidate `id` (the `index`th): LeaderElector most of the time, else its own loop over
   * Election or over a Mutex; the lab's `serviceShare` of them on etcd's election and lock services
   * (the cast stream is drawn either way, so a seed casts the same APIs with or without). The API takes one
   * draw of the scenario's `rng`, as before mutexes joined, so recorded seeds replay the same faults.
   */
  cast(id: string, index: number, rng: Rng): CandidateSpec {
    const drawn: CandidateMode = rng.chance(0.7) ? 'elector' : index % 2 === 1 ? 'mutex' : 'election';
    const zkLine = this.lab.backend === 'zookeeper';
    const mode = this.#allMutex ? 'mutex' : zkLine && drawn === 'mutex' ? 'election' : drawn;
    const service = this.#cast.chance(this.#serviceShare);
    return { id, mode, etcd: service ? 'service' : 'client' };
  }

  /** How candidate `cand` was cast. */
  specOf(cand: string): CandidateSpec | undefined {
    return this.#specs.get(cand);
  }

  /** The slot hosting candidate `cand`. */
  slotOf(cand: string): number {
    for (const p of this.#participants.values()) if (p.cands.includes(cand)) return p.slot;
    throw new Error(`unknown candidate ${cand}`);
  }

  /** The isolated worker hosting candidate `cand`. */
  workerOf(cand: string): IsolatedWorker {
    return (this.#participants.get(this.slotOf(cand)) as Participant).iw;
  }

  /** Every event of this trial so far, from every participant. */
  events(): WorkerEvent[] {
    const out: WorkerEvent[] = [];
    for (const p of this.#participants.values()) {
      const msgs = p.iw.worker.messages;
      for (let i = p.cursor; i < msgs.length; i++) {
        const m = msgs[i] as JsonObject;
        if (m['trial'] === this.name || m['ev'] === 'crash') out.push(m as unknown as WorkerEvent);
      }
    }
    return out;
  }

  /** The candidate that reported a term and has not reported its end, among live workers. */
  currentLeader(exclude: readonly string[] = []): LeaderInfo | undefined {
    const open = new Map<string, LeaderInfo>();
    for (const e of this.events()) {
      if (e.ev === 'elected')
        open.set(e.cand, {
          cand: e.cand,
          token: BigInt(e.token),
          slot: this.slotOf(e.cand),
          startedAt: e.startedAt,
        });
      else if (e.ev === 'ended' && open.get(e.cand)?.token === BigInt(e.token)) open.delete(e.cand);
    }
    let best: LeaderInfo | undefined;
    for (const info of open.values()) {
      const p = this.#participants.get(info.slot);
      if (!p || p.killedAt !== null || exclude.includes(info.cand)) continue;
      if (!best || info.startedAt > best.startedAt) best = info;
    }
    return best;
  }

  /** Waits for a leader other than `exclude`, optionally with a token above `above`. */
  async waitLeader(
    opts: { exclude?: string[]; above?: bigint; timeoutMs?: number; what?: string } = {},
  ): Promise<LeaderInfo> {
    const timeout = opts.timeoutMs ?? this.boundMs + 3_000;
    const end = now() + timeout;
    for (;;) {
      const leader = this.currentLeader(opts.exclude);
      if (leader && (opts.above === undefined || leader.token > opts.above)) return leader;
      if (now() > end)
        throw new StepTimeout(`${opts.what ?? 'no leader'} within ${timeout} ms (trial ${this.name})`);
      await sleep(10);
    }
  }

  /** Candidates in line, oldest entry first, as etcd has them. */
  async line(): Promise<Kv[]> {
    if (this.lab.backend === 'postgres') return pgLine(this.lab.pg, this.election, this.entryPrefix);
    if (this.lab.backend === 'zookeeper') return this.lab.zkProbe.line(this.election);
    return (await this.lab.http.range(this.entryPrefix)).kvs;
  }

  /**
   * The candidates in line, oldest entry first. Entries are matched to candidates by the lease in
   * their key (a mutex entry carries no value); an entry nobody claims is reported by its key.
   */
  async lineOwners(): Promise<string[]> {
    const [statuses, kvs] = await Promise.all([this.#statuses(), this.line()]);
    const ownerOf = this.#ownerOf(statuses);
    return kvs.map(ownerOf);
  }

  /** On ZooKeeper a node's name does not show its session: its ephemeralOwner (the kv's lease) does. */
  #ownerOf(statuses: CandidateStatus[]): (kv: Kv) => string {
    const byLease = new Map(statuses.filter((s) => s.lease !== null).map((s) => [s.lease, s.cand]));
    const onZk = this.lab.backend === 'zookeeper';
    return (kv) => byLease.get(onZk ? kv.lease : kv.key.slice(this.entryPrefix.length)) ?? kv.key;
  }

  /** Waits until `n` entries are in line. */
  async waitLine(n: number, timeoutMs = 15_000): Promise<Kv[]> {
    const end = now() + timeoutMs;
    for (;;) {
      const kvs = await this.line().catch(() => []);
      if (kvs.length >= n) return kvs;
      if (now() > end)
        throw new StepTimeout(`${kvs.length} of ${n} candidates in line after ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  /** Sends concede to the candidate; resolves when it answered (an error is recorded, not thrown). */
  async concede(cand: string): Promise<void> {
    const p = this.#participants.get(this.slotOf(cand)) as Participant;
    const since = p.iw.worker.messages.length;
    this.mark(`concede ${cand}`);
    this.#send(p, { cmd: 'concede', trial: this.name, cand });
    const reply = await p.iw.worker
      .waitFor((m) => m['ev'] === 'conceded' && m['cand'] === cand && m['trial'] === this.name, 20_000, {
        since,
      })
      .catch(() => undefined);
    if (reply?.['error']) this.mark(`concede ${cand} failed: ${String(reply['error'])}`);
  }

  /** Stops one candidate for good; a stop that does not return in time is a hung stop. */
  async stop(cand: string): Promise<void> {
    const p = this.#participants.get(this.slotOf(cand)) as Participant;
    const since = p.iw.worker.messages.length;
    this.mark(`stop ${cand}`);
    this.#send(p, { cmd: 'stop', trial: this.name, cand });
    try {
      const done = await p.iw.worker.waitFor(
        (m) => m['ev'] === 'stopped' && m['cand'] === cand && m['trial'] === this.name,
        this.boundMs + 10_000,
        { since },
      );
      this.mark(`${cand} stopped in ${Number(done['ms']).toFixed(0)} ms`);
    } catch (err) {
      this.failures.push({
        check: 'stuck',
        message: `${cand}: stop() did not finish: ${(err as Error).message}`,
      });
    }
  }

  /** Blackholes every connection of the candidate's worker. */
  partition(cand: string): void {
    this.workerOf(cand).partition();
    this.mark(`partition ${cand}`);
  }

  /** Ends a partition (stalled bytes delivered late, or connections reset). */
  heal(cand: string, deliverStalled: boolean): void {
    this.workerOf(cand).heal({ deliverStalled });
    this.mark(`heal ${cand} (${deliverStalled ? 'stalled bytes delivered' : 'connections reset'})`);
  }

  /** Delays every byte between the candidate's worker and etcd by `ms` each way (0 ends it). */
  slow(cand: string, ms: number): void {
    this.workerOf(cand).delay(ms);
    this.mark(ms > 0 ? `slow link for ${cand}: +${ms} ms each way` : `link of ${cand} fast again`);
  }

  /** SIGSTOP. */
  pause(cand: string): void {
    this.workerOf(cand).pause();
    this.mark(`SIGSTOP ${cand}`);
  }

  /** SIGCONT. */
  resume(cand: string): void {
    this.workerOf(cand).resume();
    this.mark(`SIGCONT ${cand}`);
  }

  /** SIGKILL; a replacement worker starts at once for later trials. */
  async kill(cand: string): Promise<void> {
    const slot = this.slotOf(cand);
    const p = this.#participants.get(slot) as Participant;
    p.killedAt = now();
    this.mark(`SIGKILL ${cand} (w${slot})`);
    await p.iw.kill();
    this.lab.respawn(slot);
  }

  /** What the lab calls a member of its cluster, for the timeline. */
  get #member(): string {
    return this.lab.backend === 'zookeeper' ? 'ZooKeeper server' : 'etcd member';
  }

  /** Kills etcd member (or ZooKeeper server) `index` with SIGKILL. */
  async killMember(index: number): Promise<void> {
    this.mark(`SIGKILL ${this.#member} m${index}`);
    this.#killedMembers.set(index, this.#memberFault(`${this.#member} killed`));
    await (this.lab.backend === 'zookeeper' ? this.lab.zk.servers : this.lab.cluster.nodes)[index]?.kill();
  }

  /** Restarts etcd member (or ZooKeeper server) `index` on its data dir. */
  async restartMember(index: number): Promise<void> {
    this.mark(`restart ${this.#member} m${index}`);
    await (this.lab.backend === 'zookeeper' ? this.lab.zk.servers : this.lab.cluster.nodes)[index]?.restart();
    const fault = this.#killedMembers.get(index);
    if (fault) fault.healedAt = now();
    this.#killedMembers.delete(index);
    this.mark(`${this.#member} m${index} healthy`);
  }

  /**
   * Freezes etcd member `index` with SIGSTOP; `raftLeader` says whether it leads raft now (its
   * resume is then marked for the checker: etcd bug #15247 may revoke live leases on it).
   */
  async pauseMember(index: number, raftLeader: boolean): Promise<void> {
    const stopped = this.lab.cluster.nodes[index]?.pause();
    const label = `etcd ${raftLeader ? 'raft leader' : 'follower'} paused`;
    this.#pausedMembers.set(index, { raftLeader, fault: this.#memberFault(label) });
    this.mark(`SIGSTOP etcd member m${index} (${raftLeader ? 'raft leader' : 'follower'})`);
    await stopped;
  }

  /** SIGCONT to a member pauseMember() froze. */
  resumeMember(index: number): void {
    const paused = this.#pausedMembers.get(index);
    const at = now();
    if (paused?.raftLeader) this.resumes.push(at);
    this.lab.cluster.nodes[index]?.resume();
    if (paused) paused.fault.healedAt = at;
    this.#pausedMembers.delete(index);
    this.mark(`SIGCONT etcd member m${index}`);
  }

  #memberFault(label: string): MemberFault {
    const fault: MemberFault = { at: now(), label, healedAt: null };
    this.memberFaults.push(fault);
    return fault;
  }

  /**
   * Waits until the reachable members agree on a raft leader (on ZooKeeper: one server in leader
   * mode with a quorum of followers, as `srvr` reports); returns its index.
   */
  async raftLeader(): Promise<number> {
    const index =
      this.lab.backend === 'zookeeper'
        ? this.lab.zk.servers.indexOf(await this.lab.zk.leader(ZK_QUORUM_MS))
        : await this.lab.cluster.leaderIndex(15_000);
    this.mark(`${this.lab.backend === 'zookeeper' ? 'ZooKeeper' : 'raft'} leader is m${index}`);
    return index;
  }

  /** Restarts every member at once. */
  async restartCluster(): Promise<void> {
    this.mark('restart the whole etcd cluster');
    await this.lab.cluster.restartAll();
    this.mark('etcd cluster healthy');
  }

  /** Freezes every PostgreSQL process with SIGSTOP. */
  async pauseServer(): Promise<void> {
    const stopped = this.lab.pg.pause();
    this.mark('SIGSTOP the PostgreSQL server (every process)');
    await stopped;
  }

  /** SIGCONT to what pauseServer() froze. */
  resumeServer(): void {
    this.lab.pg.resume();
    this.mark('SIGCONT the PostgreSQL server');
  }

  /** Shuts PostgreSQL down (fast: clean; immediate: crash-like) and starts it again on its data. */
  async restartServer(mode: ShutdownMode): Promise<void> {
    this.mark(`restart PostgreSQL (${mode} shutdown)`);
    await this.lab.pg.restart(mode);
    this.mark('PostgreSQL accepts connections again');
  }

  /** pg_terminate_backend on every connection of the candidate (its pool and its LISTEN connection). */
  async terminateBackends(cand: string): Promise<number> {
    const app = applicationNameOf(this.name, cand);
    // Idle connections show their last statement: the LISTEN connection's is a LISTEN.
    const { rows } = await this.lab.pg.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'listen%'",
      [app],
    );
    const n = await this.lab.pg.terminate(`application_name = '${app.replaceAll("'", "''")}'`);
    this.mark(`pg_terminate_backend: ${n} connection(s) of ${cand}, ${rows[0]?.n ?? 0} of them LISTENing`);
    return n;
  }

  /** Reads history so far (it must survive the compaction), then compacts everything before now. */
  async compact(): Promise<void> {
    const revision = await this.#history.sync();
    await this.lab.http.compact(revision);
    this.mark(`compacted etcd history up to revision ${revision}`);
  }

  /** Heals, resumes and restarts whatever the scenario left broken; a heal point if anything was. */
  async restore(): Promise<void> {
    let changed = false;
    for (const p of this.#participants.values()) {
      if (p.iw.dead) continue;
      if (p.iw.paused) {
        p.iw.resume();
        changed = true;
      }
      if (p.iw.partitioned) {
        p.iw.heal();
        changed = true;
      }
      p.iw.delay(0);
    }
    // restoreCluster() resumes every member: a raft leader left paused may revoke leases then too.
    const at = now();
    for (const { raftLeader, fault } of this.#pausedMembers.values()) {
      if (raftLeader) this.resumes.push(at);
      fault.healedAt = at;
    }
    this.#pausedMembers.clear();
    if (await this.lab.restoreCluster()) changed = true;
    for (const fault of this.#killedMembers.values()) fault.healedAt = now();
    this.#killedMembers.clear();
    if (changed) this.healed('the harness restored everything the scenario left broken');
  }

  /**
   * Waits until the trial is quiet and sane: every live candidate has exactly one entry, the
   * oldest entry's candidate (and only it) believes it leads with that entry's token, and every
   * observer reports that token. Gives up TTL + 2 s after the last heal (at least 1 s from now).
   */
  async settle(): Promise<{ ok: boolean; detail: string }> {
    const lastHeal = Math.max(this.startedAt, ...this.heals.map((h) => h.at));
    const end = Math.max(lastHeal + this.boundMs, now() + 1_000);
    let detail = 'not checked';
    for (;;) {
      detail = await this.#unsettled().catch((err: Error) => `cannot read state: ${err.message}`);
      if (detail === '') {
        this.mark('settled');
        return { ok: true, detail: '' };
      }
      if (now() > end) break;
      await sleep(50);
    }
    this.mark(`not settled: ${detail}`);
    return {
      ok: false,
      detail: `${((now() - lastHeal) / 1000).toFixed(1)} s after the last heal: ${detail}`,
    };
  }

  /** Stops every candidate (all at once); a worker that does not finish in time is a hung stop. */
  async leave(): Promise<void> {
    this.#leftAt = now();
    this.mark('leave: stop every candidate');
    const live = [...this.#participants.values()].filter((p) => !p.iw.dead);
    await Promise.all(
      live.map(async (p) => {
        const since = p.iw.worker.messages.length;
        this.#send(p, { cmd: 'leave', trial: this.name });
        try {
          const left = await p.iw.worker.waitFor(
            (m) => m['ev'] === 'left' && m['trial'] === this.name,
            this.boundMs + 15_000,
            { since },
          );
          this.mark(`w${p.slot} left in ${Number(left['ms']).toFixed(0)} ms`);
        } catch (err) {
          this.failures.push({
            check: 'stuck',
            message: `w${p.slot}: stop() did not finish: ${(err as Error).message}`,
          });
          this.lab.respawn(p.slot);
        }
      }),
    );
  }

  /** Keys still under the entry prefix once TTL + 2 s passed after everyone stopped. */
  async orphans(): Promise<string[]> {
    const end = now() + this.boundMs;
    for (;;) {
      const kvs = await this.line().catch(() => undefined);
      if (kvs && kvs.length === 0) return [];
      if (now() > end) return (kvs ?? []).map((kv) => `${kv.key}=${kv.value}`);
      await sleep(50);
    }
  }

  /** Reads the rest of the history and builds what the checker needs. */
  async record(settle: { ok: boolean; detail: string }, orphans: string[]): Promise<TrialRecord> {
    await this.#history.sync();
    const terms: TermRecord[] = [];
    const writes: WriteRecord[] = [];
    for (const e of this.events()) {
      if (e.ev === 'elected') {
        const t: TermRecord = {
          cand: e.cand,
          token: BigInt(e.token),
          key: e.key,
          startedAt: e.startedAt,
          announced: false,
          reason: null,
          endedAt: null,
          lastActive: null,
          killedAt: null,
        };
        terms.push(t);
      } else if (e.ev === 'ended') {
        const t = [...terms]
          .reverse()
          .find((x) => x.cand === e.cand && x.token === BigInt(e.token) && !x.announced);
        if (t) {
          t.announced = true;
          t.reason = e.reason;
          t.endedAt = e.endedAt;
          t.lastActive = e.lastActive;
        } else
          this.failures.push({
            check: 'announced',
            message: `${e.cand} reported the end of term ${e.token} it never began`,
          });
      } else if (e.ev === 'write') {
        writes.push({
          cand: e.cand,
          token: BigInt(e.token),
          seq: e.seq,
          committed: e.committed,
          stale: e.stale,
          sentAt: e.sentAt,
        });
      } else if (e.ev === 'crash') {
        this.failures.push({ check: 'crash', message: `${e.kind}: ${e.error}` });
      }
    }
    // The terms as the candidates reported them, on the timeline's clock, for reading a failure.
    const at = (ms: number | null): string => (ms === null ? '?' : `+${(ms - this.startedAt).toFixed(0)}`);
    for (const t of terms)
      this.timeline.push(
        `  term ${t.cand}#${t.token} (${this.specOf(t.cand)?.etcd ?? '?'}): ${at(t.startedAt)} .. ` +
          `${at(t.endedAt)} ms, ${t.reason ?? 'no end reported'}`,
      );
    if (this.lab.backend === 'zookeeper') await this.#readBack(writes);
    for (const t of terms) {
      if (t.announced) continue;
      const p = this.#participants.get(this.slotOf(t.cand));
      if (p?.killedAt !== null && p?.killedAt !== undefined && p.killedAt >= t.startedAt)
        t.killedAt = p.killedAt;
    }
    return {
      scenario: this.scenario,
      ttlMs: this.lab.ttl * 1000,
      livenessBoundMs: this.boundMs,
      entryPrefix: this.entryPrefix,
      writeKey: this.writeKey,
      store: this.lab.backend,
      terms,
      writes,
      history: this.#history.events,
      heals: this.heals,
      triggers: this.triggers,
      settle,
      orphans,
      failures: this.failures,
      service: [...this.#specs.values()].filter((c) => c.etcd === 'service').map((c) => c.id),
      resumes: this.resumes,
      memberFaults: this.memberFaults,
      ...(this.#leftAt === undefined ? {} : { leftAt: this.#leftAt }),
    };
  }

  /**
   * ZooKeeper keeps every write as a node of its own: each write reported committed must be
   * readable now, with the token that made it, and no write reported refused may be.
   */
  async #readBack(writes: readonly WriteRecord[]): Promise<void> {
    const readable = await this.lab.zkProbe.readWrites(this.writeKey);
    for (const w of writes) {
      const found = readable.has(`${w.token}/${w.cand}/${w.seq}`);
      if (w.committed === true && !found)
        this.failures.push({
          check: 'fencing',
          message: `write ${w.cand}#${w.token} seq ${w.seq} reported committed, but no node under ${this.writeKey} holds it`,
        });
      else if (w.committed === false && found)
        this.failures.push({
          check: 'fencing',
          message: `write ${w.cand}#${w.token} seq ${w.seq} reported refused, but ZooKeeper holds it under ${this.writeKey}`,
        });
    }
  }

  /** Removes the trial's keys (or rows, or nodes) so the store does not grow across a long soak. */
  async cleanup(): Promise<void> {
    if (this.lab.backend === 'zookeeper') {
      await this.lab.zkProbe.removeTree(this.prefix).catch(() => undefined);
      return;
    }
    if (this.lab.backend === 'postgres') {
      await pgCleanup(this.lab.pg, this.name, this.election).catch(() => undefined);
      return;
    }
    await this.lab.http.deletePrefix(this.prefix).catch(() => undefined);
  }

  /** Worker messages of this trial that say something went wrong, for failure reports. */
  incidents(): string[] {
    return this.events()
      .filter((e) => e.ev === 'retrying' || e.ev === 'error' || e.ev === 'crash')
      .map((e) => JSON.stringify(e));
  }

  /** Why the trial is not settled yet ('' when it is). */
  async #unsettled(): Promise<string> {
    const all = await this.#statuses();
    const kvs = await this.line();
    const problems: string[] = [];
    // A stopped candidate must have left the line; the others must all be in it.
    const statuses = all.filter((s) => !s.stopping);
    const live = new Set(statuses.map((s) => s.cand));
    const ownerOf = this.#ownerOf(all);
    const count = new Map<string, number>();
    for (const kv of kvs) {
      const owner = ownerOf(kv);
      count.set(owner, (count.get(owner) ?? 0) + 1);
      if (!live.has(owner)) problems.push(`entry ${kv.key}=${kv.value}, which is not a live candidate's`);
    }
    for (const s of statuses) {
      const n = count.get(s.cand) ?? 0;
      if (n !== 1) problems.push(`${s.cand} has ${n} entries`);
    }
    const oldest = kvs[0];
    const token = oldest?.createRevision.toString() ?? 'none';
    for (const s of statuses) {
      if (oldest && s.cand === ownerOf(oldest)) {
        if (!s.leader) problems.push(`${s.cand} holds the oldest entry (${token}) but does not lead`);
        else if (s.token !== token)
          problems.push(`${s.cand} leads with token ${s.token}, its entry is ${token}`);
      } else if (s.leader)
        problems.push(`${s.cand} believes it leads (token ${s.token}) but the oldest entry is ${token}`);
      if (s.observed !== token)
        problems.push(
          `${s.cand} observes leader ${s.observed ?? 'nothing yet'}, ${this.lab.backend} says ${token}`,
        );
    }
    // Long lists (the burst) are summarized: the first few problems say enough.
    return problems.length > 4
      ? `${problems.slice(0, 4).join('; ')}; and ${problems.length - 4} more`
      : problems.join('; ');
  }

  async #statuses(): Promise<CandidateStatus[]> {
    const live = [...this.#participants.values()].filter((p) => !p.iw.dead && p.killedAt === null);
    const replies = await Promise.all(
      live.map(async (p) => {
        const req = ++this.#statusReq;
        const since = p.iw.worker.messages.length;
        this.#send(p, { cmd: 'status', trial: this.name, req });
        const reply = await p.iw.worker.waitFor((m) => m['ev'] === 'status' && m['req'] === req, 5_000, {
          since,
        });
        return reply['cands'] as unknown as CandidateStatus[];
      }),
    );
    return replies.flat();
  }

  #send(p: Participant, cmd: Command): void {
    p.iw.worker.send(cmd as unknown as JsonObject);
  }
}
