/**
 * A candidate's watch on its own entry, as the notify-based entry recipes (PostgreSQL, ZooKeeper)
 * hold it: armed before the campaign reads the line, so no change between the read and the wait
 * is missed, then kept as the term's deletion watch once the entry leads.
 */
export interface OwnWatch {
  /** Stops reacting (the campaign failed or did not win). */
  stop(): void;
  /** Turns it into the term's deletion watch; `missed`: something rang since the last read, so check now. */
  leading(onGone: () => void, missed: boolean): () => void;
}
