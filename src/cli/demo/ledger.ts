/** The end reason the harness records for a term whose process it killed. */
export const KILLED = 'killed';

/** Which invariant a violation breaks. */
export type Invariant = 'overlap' | 'tokens' | 'fencing' | 'handover' | 'announced' | 'observer' | 'scenario';

/** One broken invariant. */
export interface Violation {
  invariant: Invariant;
  message: string;
}

/** One term as the demo saw it; times on the monotonic clock every process on the host shares. */
export interface TermRecord {
  candidate: string;
  token: bigint;
  key: string;
  startedAt: number;
  endedAt?: number;
  reason?: string;
  /** Whether the candidate itself reported the end (a killed process cannot). */
  announced: boolean;
}

/**
 * Every term of the demo's election, checked as it goes: believed leadership intervals must not
 * overlap, and tokens must strictly increase in the order terms began. Events from different
 * processes can arrive out of order, so an interval is judged against another only once an end
 * that could prove an overlap is known; nothing is flagged on a guess.
 */
export class Ledger {
  /** Terms in the order they were reported. */
  readonly terms: TermRecord[] = [];
  /** Broken invariants, in the words shown to the user. */
  readonly violations: Violation[] = [];
  private readonly onViolation: (violation: Violation) => void;

  constructor(onViolation: (violation: Violation) => void = () => {}) {
    this.onViolation = onViolation;
  }

  /** A term began. */
  opened(candidate: string, token: bigint, key: string, startedAt: number): TermRecord {
    const record: TermRecord = { candidate, token, key, startedAt, announced: false };
    this.terms.push(record);
    this.checkTokens(record);
    for (const other of this.terms)
      if (other !== record && other.endedAt !== undefined) this.checkPair(record, other);
    return record;
  }

  /** A term ended; `announced` is false when the end was inferred (the process was killed). */
  closed(token: bigint, endedAt: number, reason: string, announced: boolean): TermRecord | undefined {
    const record = this.terms.find((t) => t.token === token);
    if (!record || record.endedAt !== undefined) return record;
    record.endedAt = endedAt;
    record.reason = reason;
    record.announced = announced;
    for (const other of this.terms) if (other !== record) this.checkPair(record, other);
    return record;
  }

  /** The term currently believed to lead: the newest one not yet ended. */
  current(): TermRecord | undefined {
    return this.terms.filter((t) => t.endedAt === undefined).sort((a, b) => (a.token > b.token ? -1 : 1))[0];
  }

  /** Records a broken invariant, including ones the ledger cannot see itself (e.g. a stale write that committed). */
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

  /** Terms whose end nobody reported, or that ended silently though the process lived (a killed one cannot speak). */
  unannounced(): TermRecord[] {
    return this.terms.filter((t) => t.endedAt === undefined || (!t.announced && t.reason !== KILLED));
  }

  private checkTokens(record: TermRecord): void {
    const ordered = [...this.terms].sort((a, b) => a.startedAt - b.startedAt);
    const i = ordered.indexOf(record);
    const before = ordered[i - 1];
    const after = ordered[i + 1];
    if (before && before.token >= record.token)
      this.violate(
        'tokens',
        `token did not increase: ${before.candidate} had ${before.token}, then ${record.candidate} got ${record.token}`,
      );
    if (after && after.token <= record.token)
      this.violate(
        'tokens',
        `token did not increase: ${record.candidate} got ${record.token} before ${after.candidate}'s ${after.token}`,
      );
  }

  /** Flags a and b if their intervals provably overlap: the later one began before the earlier one ended. */
  private checkPair(a: TermRecord, b: TermRecord): void {
    const [first, second] = a.startedAt <= b.startedAt ? [a, b] : [b, a];
    // An earlier term with no known end yet proves nothing: it is judged when its end arrives.
    if (first.endedAt === undefined || second.startedAt >= first.endedAt) return;
    this.violate(
      'overlap',
      `overlap: ${second.candidate} (token ${second.token}) was elected while ${first.candidate} (token ${first.token}) ` +
        `still believed it led, for ${(first.endedAt - second.startedAt).toFixed(1)} ms`,
    );
  }
}
