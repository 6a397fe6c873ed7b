import type { ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { CandidateState } from './candidate.js';
import { InternalError } from '../../index.js';
import { parseLine, type WorkerCommand, type WorkerMessage } from './protocol.js';

const REPLY_TIMEOUT_MS = 15_000;

/** One `__demo-worker` child process of the etcd demo, and what it last reported. */
export class WorkerProcess {
  state: CandidateState = 'starting';
  token?: bigint;
  lease?: string;
  deadline?: number;
  writes = { ok: 0, rejected: 0 };
  readonly messages: WorkerMessage[] = [];
  readonly closed: Promise<void>;
  private readonly listeners = new Set<() => void>();
  private stderr = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    onMessage: (msg: WorkerMessage) => void,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = parseLine<WorkerMessage>(line);
      if (!msg) return;
      this.messages.push(msg);
      onMessage(msg);
      for (const listener of [...this.listeners]) listener();
    });
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-2000)));
    // The demo must never die of a write to a worker that already exited.
    child.stdin.on('error', () => undefined);
    // 'close' comes after stdout is drained, so every line the worker wrote has been handled.
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    void this.closed.then(() => {
      for (const listener of [...this.listeners]) listener();
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(command: WorkerCommand): void {
    if (this.alive) this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** The first message from index `since` on that matches, within the reply timeout. */
  waitFor(ev: string, since: number): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new InternalError(`worker ${this.name} sent no "${ev}" in time; stderr: ${this.stderr}`)),
        REPLY_TIMEOUT_MS,
      );
      const check = () => {
        const found = this.messages.slice(since).find((m) => m.ev === ev);
        if (found) done(undefined, found);
        else if (!this.alive && this.child.stdout.readableEnded)
          done(new InternalError(`worker ${this.name} exited; stderr: ${this.stderr}`));
      };
      const done = (err?: Error, msg?: WorkerMessage) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve(msg as WorkerMessage);
      };
      this.listeners.add(check);
      check();
    });
  }
}
