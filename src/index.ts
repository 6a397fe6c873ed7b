/** ballot: leader election with fenced terms for Node.js, on etcd, PostgreSQL or in process. */
export { etcd, EtcdTxn, type EtcdMode, type EtcdOptions } from './backends/etcd/index.js';
export { memory, MemoryBackend, MemoryTxn, type MemoryOptions } from './backends/memory/index.js';
export {
  migrationSql,
  postgres,
  PgTxn,
  type PgRows,
  type PostgresJsQuery,
  type PostgresJsRows,
  type PostgresJsSql,
  type PostgresOptions,
} from './backends/postgres/index.js';
export { zookeeper, ZkTxn, type ZookeeperOptions } from './backends/zookeeper/index.js';
export { backendFromEnv, type BackendKind } from './backends/from-env.js';
export { Backend, type BackendEvents } from './core/backend.js';
export {
  decodeCandidateValue,
  encodeCandidateValue,
  type Advertise,
  type CandidateMeta,
  type DecodedValue,
} from './core/candidate-value.js';
export { ManualClock, systemClock, type Clock, type TimerHandle } from './core/clock.js';
export type { BackendLimits, BackendStats, BackendWarning } from './core/contract.js';
export {
  Election,
  type CampaignOptions,
  type Leader,
  type LeaderChange,
  type NoLeader,
  type ObserveOptions,
  type UnknownLeader,
} from './core/election.js';
export {
  LeaderElector,
  type LeaderElectorEvents,
  type LeaderElectorOptions,
  type TermsOptions,
  type TermStream,
} from './core/elector.js';
export * from './core/errors.js';
export { CompactedError } from './etcd/compacted-error.js';
export {
  GuardBuilder,
  KvTxn,
  type GuardBody,
  type GuardOp,
  type GuardResult,
  type GuardReturn,
} from './core/guard.js';
export { Mutex, type Lock } from './core/mutex.js';
export type { DeposeOptions, DeposeResult, Participant } from './core/participants.js';
export {
  DEFAULT_TRANSFER_TIMEOUT_MS,
  type BackendTransferOptions,
  type TransferOptions,
  type TransferResult,
} from './core/transfer.js';
export type { PriorityTransferOptions } from './core/priority.js';
export { silentLogger, type LogFields, type Logger, type LogMethod } from './core/logger.js';
export { Session, type SessionEvents, type SessionOptions } from './core/session.js';
export { Term, TermEndedError, type TermEndReason } from './core/term.js';
export type { TlsOptions } from './etcd/connection.js';
export * from './serve/index.js';
