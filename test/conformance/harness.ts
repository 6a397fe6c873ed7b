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

/**
 * How the conformance suite drives one backend: create its server and clients, and cut one off.
 * Everything else the suite reads or does goes through the public API, the same on every backend.
 */
export interface BackendHarness {
  readonly name: string;
  /** Starts servers. */
  setup(): Promise<void>;
  /** Stops servers. */
  teardown(): Promise<void>;
  /** A candidate with its own partitionable client. */
  candidate(ttl: number): Promise<Candidate>;
  /** One client shared by many sessions (the herd case), also the operator's: participants, depose. */
  sharedBackend(): Backend;
  /**
   * false when the backend cannot see another client's session time left (ZooKeeper): its
   * participants then report ttl null. Default: it can, and reports whole seconds left.
   */
  readonly seesSessionTime?: boolean;
  /**
   * true where guards' keys and election entries share one key space (etcd, memory): a key that
   * another tool writes under an election's prefix then stands in line. Elsewhere (PostgreSQL's
   * kv table, ZooKeeper's /ballot-kv) that cannot happen.
   */
  readonly entriesAreKeys?: boolean;
}
