/**
 * The invariant checker of ballot's demo and of its chaos harness. It judges what the candidates
 * reported (terms, belief samples, guarded writes, all on the host's shared monotonic clock) and
 * nothing else, so the demo on memory and on etcd and the chaos trials feed it the same records.
 * What a backend's own history can add (the chaos harness replays etcd's) stays with whoever
 * reads that history. A pure function of the record: the self-tests feed it broken histories.
 */

/** How a term may end (TermEndReason). */
export const END_REASONS: ReadonlySet<string> = new Set([
  'resigned',
  'session-lost',
  'unreachable',
  'key-deleted',
  'closed',
  'transferred',
]);

/** One term as its candidate reported it. */
export interface TermRecord {
  cand: string;
  token: bigint;
  /** The entry key the candidate says its term holds. */
  key: string;
  startedAt: number;
  /** Whether the candidate reported the end (a killed process cannot). */
  announced: boolean;
  /** The reason the API announced (deposed event or term signal), if announced. */
  reason: string | null;
  /** term.ended.at, if announced. */
  endedAt: number | null;
  /** Last belief sample that found the term current. */
  lastActive: number | null;
  /** When the candidate's process was killed, if that happened during this term. */
  killedAt: number | null;
}

/** One guarded write as its candidate reported it. */
export interface WriteRecord {
  cand: string;
  token: bigint;
  seq: number;
  /** Whether the backend applied it; null when the outcome is unknown (the call failed). */
  committed: boolean | null;
  /** Made on purpose with a term that had ended (it must be refused). */
  stale: boolean;
  sentAt: number;
}

/** A moment after which the faulty parts are healed or gone: a leader must exist soon after. */
export interface HealPoint {
  at: number;
  label: string;
  /** Candidates that cannot count as that leader while their fault lasts (partitioned, paused, ...). */
  exclude: string[];
  /** When the fault of the excluded candidates ended; from then on they count again. */
  until?: number;
}

/** A moment leadership was expected to move away from `from` (resign, kill, pause, partition). */
export interface Trigger {
  at: number;
  label: string;
  from: string | null;
}

/** Everything the checker judges: what the candidates of one election reported. */
export interface History {
  terms: TermRecord[];
  writes: WriteRecord[];
  /** How soon after a heal some candidate must lead. */
  livenessBoundMs: number;
  heals: HealPoint[];
  triggers: Trigger[];
  /** Whether every live candidate ended up in line, with one agreed leader; why not, if not. */
  settle: { ok: boolean; detail: string };
  /** Entries left in the election after every candidate stopped and the TTL passed. */
  orphans: string[];
  /** Unhandled rejections, exceptions, hung stops, scenario steps that never happened. */
  failures: Violation[];
}

/** The invariant a violation breaks. */
export type Check =
  'overlap' | 'tokens' | 'fencing' | 'announced' | 'liveness' | 'stuck' | 'orphan' | 'crash' | 'scenario';

/** One broken invariant, with enough detail to start debugging. */
export interface Violation {
  check: Check;
  message: string;
}

/** The checker's findings and the measurements it derived. */
export interface Verdict {
  violations: Violation[];
  /** For each handover, how long before the new term began the old one had ended (ms, > 0). */
  leads: number[];
  /** From each trigger to the next term of another candidate (ms), by trigger label. */
  handovers: { label: string; ms: number }[];
  /** Guarded writes the backend applied / refused, and stale ones it applied (allowed only while the entry still led). */
  writes: { committed: number; refused: number; unknown: number; staleCommitted: number };
  terms: number;
}

/** How to judge the record. */
export interface CheckOptions {
  /**
   * The run is still going: a term whose end is not reported yet is open, not silent, and proves
   * no overlap until its end arrives. For live checks; nothing is flagged on a guess.
   */
  partial?: boolean;
  /**
   * Judges an overlap of believed leadership before it counts as a violation: true when the
   * caller accounts for it otherwise (the chaos harness's measured early-revocation window). Never
   * set by the demo: without it every overlap is a violation.
   */
  allowOverlap?: (overlap: Overlap) => boolean;
}

/** Two terms believed at once: `later` began at `at` while `earlier` still led for `ms` more. */
export interface Overlap {
  earlier: TermRecord;
  later: TermRecord;
  at: number;
  ms: number;
}

/** Slack for a new leader after a heal, on top of the TTL, as the chaos issue specifies. */
export const LIVENESS_SLACK_MS = 2_000;

interface Interval {
  term: TermRecord;
  start: number;
  end: number;
}

const fmt = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(1) : String(ms));

/** "c1#42": a term as messages name it. */
export function describeTerm(t: { cand: string; token: bigint }): string {
  return `${t.cand}#${t.token}`;
}

/** Whether nobody has reported the term's end yet (nor killed its process). */
export function isOpen(term: TermRecord): boolean {
  return !term.announced && term.killedAt === null;
}

/** When a term's believed leadership ended: the later of its announced end and its last belief. */
function intervalOf(term: TermRecord, partial: boolean): Interval {
  let end = Number.POSITIVE_INFINITY;
  if (term.announced) {
    end = Math.max(term.endedAt ?? Number.NEGATIVE_INFINITY, term.lastActive ?? Number.NEGATIVE_INFINITY);
    if (!Number.isFinite(end)) end = Number.POSITIVE_INFINITY;
  } else if (term.killedAt !== null) {
    end = term.killedAt;
  } else if (partial) {
    // Still open: what it believed so far is known, the rest is judged once its end arrives.
    end = Math.max(term.startedAt, term.lastActive ?? Number.NEGATIVE_INFINITY);
  }
  return { term, start: term.startedAt, end };
}

/** Judges one record. */
export function check(record: History, options: CheckOptions = {}): Verdict {
  const partial = options.partial === true;
  const violations: Violation[] = [...record.failures];
  const add = (check: Check, message: string): void => {
    violations.push({ check, message });
  };

  // Every end is announced, with a reason, and nothing is believed after it.
  for (const t of record.terms) {
    if (!t.announced) {
      if (t.killedAt === null && !partial) add('announced', `term ${describeTerm(t)} never reported an end`);
      continue;
    }
    if (t.reason === null || !END_REASONS.has(t.reason))
      add('announced', `term ${describeTerm(t)} ended with reason ${JSON.stringify(t.reason)}`);
    if (t.endedAt === null) add('announced', `term ${describeTerm(t)} was deposed but term.ended is unset`);
    else if (t.endedAt < t.startedAt)
      add(
        'announced',
        `term ${describeTerm(t)} ended (${fmt(t.endedAt)}) before it began (${fmt(t.startedAt)})`,
      );
    if (t.endedAt !== null && t.lastActive !== null && t.lastActive > t.endedAt)
      add(
        'overlap',
        `${describeTerm(t)} still believed it led at ${fmt(t.lastActive)}, ${fmt(t.lastActive - t.endedAt)} ms after its term ended`,
      );
  }

  // No overlap of believed leadership, tokens strictly increasing in the order terms began.
  const intervals = record.terms.map((t) => intervalOf(t, partial)).sort((a, b) => a.start - b.start);
  const leads: number[] = [];
  let widest: Interval | undefined;
  for (let i = 0; i < intervals.length; i++) {
    const cur = intervals[i] as Interval;
    const prev = intervals[i - 1];
    const overlap =
      widest && cur.start < widest.end
        ? { earlier: widest.term, later: cur.term, at: cur.start, ms: widest.end - cur.start }
        : undefined;
    const allowed = overlap !== undefined && options.allowOverlap?.(overlap) === true;
    if (widest && overlap && !allowed)
      add(
        'overlap',
        `${describeTerm(cur.term)} began at ${fmt(cur.start)} while ${describeTerm(widest.term)} ` +
          `(began ${fmt(widest.start)}) still led until ${fmt(widest.end)}: ${fmt(widest.end - cur.start)} ms of two leaders`,
      );
    if (prev) {
      if (cur.term.token <= prev.term.token)
        add(
          'tokens',
          `token ${cur.term.token} of ${describeTerm(cur.term)} (began ${fmt(cur.start)}) does not exceed ` +
            `${prev.term.token} of ${describeTerm(prev.term)} (began ${fmt(prev.start)})`,
        );
      if (Number.isFinite(prev.end) && !isOpen(prev.term) && !allowed) leads.push(cur.start - prev.end);
    }
    if (!widest || cur.end > widest.end) widest = cur;
  }

  // Fencing, from the candidates' side: a newer term begins only after the backend let the older
  // entry go, so a write sent after that with an older token must be refused.
  const counts = { committed: 0, refused: 0, unknown: 0, staleCommitted: 0 };
  const tokens = new Set(record.terms.map((t) => t.token));
  for (const w of record.writes) {
    if (w.committed === false) counts.refused++;
    else if (w.committed === null) counts.unknown++;
    else {
      counts.committed++;
      if (w.stale) counts.staleCommitted++;
      const newer = intervals.find((iv) => iv.term.token > w.token && iv.start <= w.sentAt);
      if (newer)
        add(
          'fencing',
          `write ${describeTerm(w)} seq ${w.seq} was committed though it was sent at ${fmt(w.sentAt)}, after ` +
            `${describeTerm(newer.term)} began (${fmt(newer.start)})`,
        );
      else if (!partial && !tokens.has(w.token))
        add('fencing', `write ${describeTerm(w)} seq ${w.seq} was committed with a token no candidate held`);
    }
  }

  // Liveness: after each heal, some candidate that is not excluded leads within the bound.
  const bound = record.livenessBoundMs;
  for (const h of record.heals) {
    const excluded = new Set(h.exclude);
    // An excluded candidate's belief counts only once its fault is over (a short freeze may rightly keep the term).
    const countsFrom = (iv: Interval): number =>
      excluded.has(iv.term.cand) ? Math.max(iv.start, h.until ?? Number.POSITIVE_INFINITY) : iv.start;
    const covering = intervals.find((iv) => {
      const from = countsFrom(iv);
      return from < h.at + bound && iv.end > Math.max(h.at, from);
    });
    if (!covering) {
      const next = intervals.find((iv) => countsFrom(iv) >= h.at && Number.isFinite(countsFrom(iv)));
      add(
        'liveness',
        `no leader within ${bound} ms of "${h.label}" (at ${fmt(h.at)}); ` +
          (next
            ? `the next term, ${describeTerm(next.term)}, began ${fmt(next.start - h.at)} ms after`
            : 'none began'),
      );
    }
  }

  if (!record.settle.ok) add('stuck', record.settle.detail);
  if (record.orphans.length > 0)
    add('orphan', `entries left after every candidate stopped: ${record.orphans.join(', ')}`);

  const handovers: { label: string; ms: number }[] = [];
  for (const trig of record.triggers) {
    const next = intervals.find((iv) => iv.start >= trig.at && iv.term.cand !== trig.from);
    if (next) handovers.push({ label: trig.label, ms: next.start - trig.at });
  }

  return { violations, leads, handovers, writes: counts, terms: record.terms.length };
}
