import type { Backend, Election, Session } from '../../src/index.js';

/** One candidate process as the suite sees it: its own client, session and network link. */
export interface Candidate {
  backend: Backend;
  session: Session;
  election(name: string): Election;
  /** Cuts this candidate off from the backend (no RST: a silent partition). */
  partition(): void;
  /** Reconnects it. */
  heal(): void;
  /** Closes its session and client. */
  close(): Promise<void>;
}

/** How the conformance suite drives one backend. */
export interface BackendHarness {
  readonly name: string;
  /** Starts servers. */
  setup(): Promise<void>;
  /** Stops servers. */
  teardown(): Promise<void>;
  /** A candidate with its own partitionable client. */
  candidate(ttl: number): Promise<Candidate>;
  /** One client shared by many sessions, for the herd case. */
  sharedBackend(): Backend;
  /** Keys under an election, oldest first. */
  entries(election: string): Promise<string[]>;
  /** Deletes a key as an operator would. */
  deleteKey(key: string): Promise<void>;
}
