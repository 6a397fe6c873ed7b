import { BallotError } from '../core/errors.js';

/** The watched history was compacted past the revision a watcher needed (etcd only). */
export class CompactedError extends BallotError {
  /** The revision etcd compacted to. */
  readonly compactRevision: bigint;
  constructor(compactRevision: bigint) {
    super('COMPACTED', `history compacted up to revision ${compactRevision}`);
    this.compactRevision = compactRevision;
  }
}
