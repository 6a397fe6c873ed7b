/**
 * The history checker. It judges one trial from what the candidates reported (terms, belief
 * samples, guarded writes, all on the shared monotonic clock) and from etcd's own history of the
 * trial's keys, read through an independent client. It is a pure function of the record, so the
 * self-tests can feed it broken histories and see each one caught.
 */
import type { KvEvent } from '../fixtures/etcd-history.js';
import type { WriteValue } from './protocol.js';

/** How a term may end (TermEndReason). */
export const END_REASONS: ReadonlySet<string> = new Set([
  'resigned',
  'session-lost',
  'unreachable',
  'key-deleted',
  'closed',
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
  /** When the candidate's process was SIGKILLed, if that happened during this term. */
  killedAt: number | null;
}

/** One guarded write as its candidate reported it. */
export interface WriteRecord {
  cand: string;
  token: bigint;
  seq: number;
  committed: boolean | null;
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

/** Everything the checker judges about one trial. */
export interface TrialRecord {
  scenario: string;
  ttlMs: number;
  /** How soon after a heal some candidate must lead (TTL + 2 s, more in service mode). */
  livenessBoundMs: number;
  /** Entries of the election live under this prefix ("<election>/"). */
  entryPrefix: string;
  writeKey: string;
  terms: TermRecord[];
  writes: WriteRecord[];
  /** etcd's history of the trial's keys, from before the first candidate joined. */
  history: KvEvent[];
  heals: HealPoint[];
  triggers: Trigger[];
  /** Whether every live candidate ended up in line, with one agreed leader; why not, if not. */
  settle: { ok: boolean; detail: string };
  /** Keys left under the entry prefix after every candidate stopped and TTL + 2 s passed. */
  orphans: string[];
  /** Unhandled rejections, exceptions, hung stops, scenario steps that never happened. */
  failures: { check: Check; message: string }[];
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

/** Slack for a new leader after a heal, on top of the TTL, as the issue specifies. */
export const LIVENESS_SLACK_MS = 2_000;

interface Interval {
  term: TermRecord;
  start: number;
  end: number;
}

const fmt = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(1) : String(ms));

function describeTerm(t: TermRecord): string {
  return `${t.cand}#${t.token}`;
}

/** When a term's believed leadership ended: the later of its announced end and its last belief. */
function intervalOf(term: TermRecord): Interval {
  let end = Number.POSITIVE_INFINITY;
  if (term.announced) {
    end = Math.max(term.endedAt ?? Number.NEGATIVE_INFINITY, term.lastActive ?? Number.NEGATIVE_INFINITY);
    if (!Number.isFinite(end)) end = Number.POSITIVE_INFINITY;
  } else if (term.killedAt !== null) {
    end = term.killedAt;
  }
  return { term, start: term.startedAt, end };
}

/** Judges one trial. */
export function check(record: TrialRecord): Verdict {
  const violations: Violation[] = [...record.failures];
  const add = (check: Check, message: string): void => {
    violations.push({ check, message });
  };

  // Every end is announced, with a reason, and nothing is believed after it.
  for (const t of record.terms) {
    if (!t.announced) {
      if (t.killedAt === null) add('announced', `term ${describeTerm(t)} never reported an end`);
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
  const intervals = record.terms.map(intervalOf).sort((a, b) => a.start - b.start);
  const leads: number[] = [];
  let widest: Interval | undefined;
  for (let i = 0; i < intervals.length; i++) {
    const cur = intervals[i] as Interval;
    const prev = intervals[i - 1];
    if (widest && cur.start < widest.end)
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
      if (Number.isFinite(prev.end)) leads.push(cur.start - prev.end);
    }
    if (!widest || cur.end > widest.end) widest = cur;
  }

  // Fencing, judged on etcd's own history: replay the entries, and at every applied write find
  // the leader (oldest entry) at that revision; the write's token must be its create revision.
  const entries = new Map<string, bigint>();
  /** Which key each entry was created under, by create revision (the token). */
  const created = new Map<bigint, string>();
  const everLed = new Set<bigint>();
  const applied = new Map<string, bigint>();
  let writesSeen = 0;
  const oldest = (): bigint | undefined => {
    let min: bigint | undefined;
    for (const rev of entries.values()) if (min === undefined || rev < min) min = rev;
    return min;
  };
  const history = record.history;
  for (let i = 0; i < history.length; i++) {
    const e = history[i] as KvEvent;
    if (e.key.startsWith(record.entryPrefix)) {
      if (e.type === 'PUT') {
        entries.set(e.key, e.createRevision);
        if (e.createRevision === e.modRevision) created.set(e.createRevision, e.key);
      } else entries.delete(e.key);
    } else if (e.key === record.writeKey && e.type === 'PUT') {
      writesSeen++;
      let value: WriteValue | undefined;
      try {
        value = JSON.parse(e.value) as WriteValue;
      } catch {
        add('fencing', `unparseable write at revision ${e.modRevision}: ${e.value}`);
      }
      if (value) {
        applied.set(`${value.t}/${value.c}/${value.s}`, e.modRevision);
        const leader = oldest();
        if (leader === undefined || BigInt(value.t) !== leader)
          add(
            'fencing',
            `write ${value.c}#${value.t} seq ${value.s} was applied at revision ${e.modRevision}, when the ` +
              `leader's token was ${leader ?? 'none (no entry)'}`,
          );
      }
    }
    const next = history[i + 1];
    if (!next || next.modRevision !== e.modRevision) {
      const leader = oldest();
      if (leader !== undefined) everLed.add(leader);
    }
  }
  for (const t of record.terms) {
    if (!everLed.has(t.token))
      add('tokens', `${describeTerm(t)} believed it led, but etcd never had entry ${t.token} as the oldest`);
    // Keys carry the session's lease, so a term paired with another candidate's entry shows here.
    const key = created.get(t.token);
    if (key !== undefined && key !== t.key)
      add('tokens', `${describeTerm(t)} holds ${t.key}, but token ${t.token} is the entry ${key}`);
  }
  const counts = { committed: 0, refused: 0, unknown: 0, staleCommitted: 0 };
  for (const w of record.writes) {
    const key = `${w.token}/${w.cand}/${w.seq}`;
    const inHistory = applied.has(key);
    if (w.committed === true) {
      counts.committed++;
      if (w.stale) counts.staleCommitted++;
      if (!inHistory)
        add(
          'fencing',
          `write ${w.cand}#${w.token} seq ${w.seq} reported committed but etcd never applied it`,
        );
    } else if (w.committed === false) {
      counts.refused++;
      if (inHistory)
        add('fencing', `write ${w.cand}#${w.token} seq ${w.seq} reported refused but etcd applied it`);
    } else counts.unknown++;
  }
  if (writesSeen > 0 && record.terms.length === 0)
    add('fencing', `${writesSeen} guarded writes applied although no candidate reported a term`);

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
    add(
      'orphan',
      `keys left under ${record.entryPrefix} after every candidate stopped: ${record.orphans.join(', ')}`,
    );

  const handovers: { label: string; ms: number }[] = [];
  for (const trig of record.triggers) {
    const next = intervals.find((iv) => iv.start >= trig.at && iv.term.cand !== trig.from);
    if (next) handovers.push({ label: trig.label, ms: next.start - trig.at });
  }

  return { violations, leads, handovers, writes: counts, terms: record.terms.length };
}
