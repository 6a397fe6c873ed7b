import { check, isOpen, type Check, type TermRecord, type WriteRecord } from '../../check/checker.js';

/** The end reason the demo shows for a term whose process it killed. */
export const KILLED = 'killed';

/** Which invariant a violation breaks, as the demo's summary names them. */
export type Invariant = 'overlap' | 'tokens' | 'fencing' | 'handover' | 'announced' | 'observer' | 'scenario';

/** One broken invariant. */
export interface Violation {
  invariant: Invariant;
  message: string;
}

/** The checker's names for what the demo calls handover (a leader soon after a fault) and scenario. */
const INVARIANT_OF: Record<Check, Invariant> = {
  overlap: 'overlap',
  tokens: 'tokens',
  fencing: 'fencing',
  announced: 'announced',
  liveness: 'handover',
  stuck: 'scenario',
  orphan: 'scenario',
  crash: 'scenario',
  scenario: 'scenario',
};

/**
 * Every term and guarded write of the demo's election, judged by the invariant checker the chaos
 * harness uses (src/check/checker.ts): after each report on the partial record, so a violation
 * shows as it happens, and once more on the whole record at the end. Reports from different
 * processes can arrive out of order; the partial check flags nothing on a guess.
 */
export class Ledger {
  /** Terms in the order they were reported. */
  readonly terms: TermRecord[] = [];
  /** Guarded writes in the order they were reported. */
  readonly writes: WriteRecord[] = [];
  /** Broken invariants, in the words shown to the user. */
  readonly violations: Violation[] = [];
  private readonly onViolation: (violation: Violation) => void;

  constructor(onViolation: (violation: Violation) => void = () => {}) {
    this.onViolation = onViolation;
  }

  /** A term began. */
  opened(cand: string, token: bigint, key: string, startedAt: number): void {
    this.terms.push({
      cand,
      token,
      key,
      startedAt,
      announced: false,
      reason: null,
      endedAt: null,
      lastActive: null,
      killedAt: null,
    });
    this.judge(true);
  }

  /** A term ended; `announced` is false when the end was inferred (the demo killed the process). */
  closed(token: bigint, endedAt: number, reason: string, announced: boolean): void {
    const record = this.terms.find((t) => t.token === token);
    if (!record || !isOpen(record)) return;
    if (announced) Object.assign(record, { announced, reason, endedAt });
    else record.killedAt = endedAt;
    this.judge(true);
  }

  /** A guarded write returned (committed: null when it failed outright). */
  wrote(write: WriteRecord): void {
    this.writes.push(write);
    if (write.committed === true) this.judge(true);
  }

  /** The term currently believed to lead: the newest one not yet ended. */
  current(): TermRecord | undefined {
    return this.terms.filter(isOpen).sort((a, b) => (a.token > b.token ? -1 : 1))[0];
  }

  /** Whether some term older than `token` has not ended yet. */
  olderOpen(token: bigint): boolean {
    return this.terms.some((t) => t.token < token && isOpen(t));
  }

  /** Records a broken invariant, including ones the checker cannot see (a handover over its bound). */
  violate(invariant: Invariant, message: string): void {
    if (this.violations.some((v) => v.message === message)) return;
    const violation = { invariant, message };
    this.violations.push(violation);
    this.onViolation(violation);
  }

  /** Whether no violation of `invariant` was recorded. */
  held(invariant: Invariant): boolean {
    return !this.violations.some((v) => v.invariant === invariant);
  }

  /** Judges the whole record, once every candidate has stopped. */
  finish(): void {
    this.judge(false);
  }

  private judge(partial: boolean): void {
    const verdict = check(
      {
        terms: this.terms,
        writes: this.writes,
        livenessBoundMs: Number.POSITIVE_INFINITY,
        heals: [],
        triggers: [],
        settle: { ok: true, detail: '' },
        orphans: [],
        failures: [],
      },
      { partial },
    );
    for (const v of verdict.violations) this.violate(INVARIANT_OF[v.check], v.message);
  }
}
