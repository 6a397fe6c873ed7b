import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError, systemClock, type Backend, type LeaderChange, type Session } from '../../index.js';
import type { StaleWrite } from './candidate.js';
import type { CandidateView, Harness, HarnessEvents } from './harness.js';
import { KILLED } from './ledger.js';
import type { WorkerConfig, WorkerMessage } from './protocol.js';
import { WorkerProcess } from './worker-process.js';

/** What a process harness needs from its backend besides the Backend object itself. */
export interface ProcessHarnessStore {
  /** Candidate values in line order, leader first, as the backend stores them. */
  queue(): Promise<string[]>;
  /** Removes the demo's data key and releases what queue() used; after the workers are gone. */
  cleanup(): Promise<void>;
}

/**
 * The demo's candidates as separate processes on a real server (etcd or PostgreSQL), so a crash is
 * SIGKILL and a pause is SIGSTOP. Each worker reports its terms on the shared monotonic clock; a
 * killed worker's term is taken to end when its process was gone.
 */
export class ProcessHarness extends EventEmitter<HarnessEvents> implements Harness {
  /** Set for a server that checks expiry coarsely (ZooKeeper, once a tick); see Harness. */
  expirySlackMs?: number;
  private readonly workers = new Map<string, WorkerProcess>();
  private closing?: Promise<void>;
  private observer?: Session;

  /** `config` goes to each worker on its stdin; `backend` serves the demo's own observer. */
  constructor(
    readonly kind: string,
    private readonly config: WorkerConfig,
    private readonly election: string,
    private readonly backend: Backend,
    private readonly store: ProcessHarnessStore,
  ) {
    super();
  }

  async start(name: string): Promise<void> {
    // Own process group: a Ctrl-C on the terminal reaches the demo, which then stops workers in order.
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        process.argv[1] ?? '',
        '__demo-worker',
        '--name',
        name,
        '--election',
        this.election,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    const worker = new WorkerProcess(name, child, (msg) => this.onMessage(worker, msg));
    this.workers.set(name, worker);
    worker.send(this.config);
    await worker.waitFor('session', 0);
  }

  async leave(name: string): Promise<void> {
    const worker = this.worker(name);
    worker.send({ cmd: 'leave' });
    await worker.closed;
    worker.state = 'stopped';
  }

  async crash(name: string): Promise<void> {
    const worker = this.worker(name);
    worker.child.kill('SIGKILL');
    await worker.closed;
    const gone = systemClock.now();
    worker.state = 'crashed';
    worker.deadline = undefined;
    if (worker.token !== undefined) {
      const token = worker.token;
      worker.token = undefined;
      this.emit('deposed', { candidate: name, token, reason: KILLED, endedAt: gone, announced: false });
    }
  }

  async pause(name: string): Promise<void> {
    const worker = this.worker(name);
    worker.child.kill('SIGSTOP');
    worker.state = 'paused';
  }

  async resume(name: string): Promise<StaleWrite | undefined> {
    const worker = this.worker(name);
    const since = worker.messages.length;
    worker.child.kill('SIGCONT');
    worker.send({ cmd: 'stale-write' });
    const msg = await worker.waitFor('stale', since);
    if (msg['token'] === null || typeof msg['token'] !== 'string') return undefined;
    const stale: StaleWrite = {
      candidate: name,
      token: BigInt(msg['token']),
      active: msg['active'] === true,
      reason: typeof msg['reason'] === 'string' ? msg['reason'] : null,
      committed: msg['committed'] === true,
    };
    if (msg['notSent'] === true) stale.notSent = true;
    if (typeof msg['error'] === 'string') stale.error = msg['error'];
    return stale;
  }

  async concede(name: string): Promise<void> {
    const worker = this.worker(name);
    const since = worker.messages.length;
    worker.send({ cmd: 'concede' });
    await worker.waitFor('conceded', since);
  }

  candidates(): CandidateView[] {
    return [...this.workers.values()]
      .map((w) => {
        const view: CandidateView = { name: w.name, state: w.state, writes: { ...w.writes } };
        if (w.token !== undefined) view.token = w.token;
        if (w.lease !== undefined && w.state !== 'crashed') view.lease = w.lease;
        if (w.deadline !== undefined && w.state !== 'crashed') view.deadline = w.deadline;
        return view;
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  queue(): Promise<string[]> {
    return this.store.queue();
  }

  async *observe(signal: AbortSignal): AsyncGenerator<LeaderChange, void, undefined> {
    this.observer ??= await this.backend.session({ ttl: this.config.ttl });
    yield* this.observer.election(this.election).observe({ signal });
  }

  async stopAll(): Promise<void> {
    const live = [...this.workers.values()].filter((w) => w.alive);
    for (const w of live) if (w.state === 'paused') w.child.kill('SIGCONT');
    // Queued candidates leave first, so the only handover left is to "no leader".
    for (const w of live.filter((w) => w.state !== 'leader')) await this.leave(w.name);
    for (const w of live.filter((w) => w.alive)) await this.leave(w.name);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Workers that do not leave in time are killed: the demo must end, and their leases expire anyway.
      const patience = new AbortController();
      await Promise.race([
        this.stopAll(),
        sleep(10_000, undefined, { signal: patience.signal }).catch(() => undefined),
      ]);
      patience.abort();
      for (const w of this.workers.values()) if (w.alive) w.child.kill('SIGKILL');
      await Promise.all([...this.workers.values()].map((w) => w.closed));
      await this.store.cleanup();
      await this.backend.close();
    })();
    return this.closing;
  }

  private onMessage(worker: WorkerProcess, msg: WorkerMessage): void {
    switch (msg.ev) {
      case 'session':
        worker.lease = String(msg['lease']);
        worker.deadline = Number(msg['deadline']);
        if (worker.state === 'starting') worker.state = 'queued';
        break;
      case 'elected':
        worker.token = BigInt(String(msg['token']));
        worker.state = 'leader';
        this.emit('elected', {
          candidate: worker.name,
          token: worker.token,
          key: String(msg['key']),
          startedAt: Number(msg['startedAt']),
        });
        break;
      case 'deposed':
        worker.token = undefined;
        if (worker.state === 'leader') worker.state = 'queued';
        this.emit('deposed', {
          candidate: worker.name,
          token: BigInt(String(msg['token'])),
          reason: String(msg['reason']),
          endedAt: Number(msg['endedAt']),
          announced: true,
        });
        break;
      case 'write': {
        const committed = typeof msg['committed'] === 'boolean' ? msg['committed'] : null;
        const stale = msg['stale'] === true;
        if (!stale && committed) worker.writes.ok++;
        else if (!stale) worker.writes.rejected++;
        this.emit('write', {
          candidate: worker.name,
          token: BigInt(String(msg['token'])),
          seq: Number(msg['seq']),
          committed,
          stale,
          sentAt: Number(msg['sentAt']),
        });
        break;
      }
      case 'failed':
        this.emit('failed', { candidate: worker.name, message: String(msg['message']) });
        break;
      case 'stale':
        if (worker.state === 'paused') worker.state = 'queued';
        break;
    }
  }

  private worker(name: string): WorkerProcess {
    const worker = this.workers.get(name);
    if (!worker?.alive) throw new InternalError(`no live worker ${name}`);
    return worker;
  }
}
