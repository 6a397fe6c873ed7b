/**
 * The chaos harness's checker: the shared invariant checker (src/check/checker.ts, which the demo
 * uses too) on what the candidates reported, plus what only the store's own history of the trial's keys
 * can show, read through an independent client: which entry led at each applied write.
 */
import {
  check as checkHistory,
  describeTerm,
  type History,
  type Verdict,
  type Violation,
} from '../../src/check/checker.js';
import type { KvEvent } from '../fixtures/etcd-history.js';
import type { Backend, WriteValue } from './protocol.js';

export {
  END_REASONS,
  LIVENESS_SLACK_MS,
  type Check,
  type HealPoint,
  type TermRecord,
  type Trigger,
  type Verdict,
  type Violation,
  type WriteRecord,
} from '../../src/check/checker.js';

/** Everything the checker judges about one chaos trial. */
export interface TrialRecord extends History {
  scenario: string;
  ttlMs: number;
  /** Entries of the election live under this prefix ("<election>/"). */
  entryPrefix: string;
  writeKey: string;
  /**
   * The store's history of the trial's keys, from before the first candidate joined: etcd's own,
   * PostgreSQL's commit-ordered log of entries and writes in the same form (pg-store.ts), or
   * ZooKeeper's transaction logs in the same form (zk-store.ts), where `created` marks an entry's
   * insert (create).
   */
  history: (KvEvent & { created?: boolean })[];
  /** Which store the history is from, for messages (default etcd). */
  store?: Backend;
}

/** Judges one trial: the candidates' reports, then the store's history against them. */
export function check(record: TrialRecord): Verdict {
  const verdict = checkHistory(record);
  verdict.violations.push(...replayEtcd(record));
  return verdict;
}

/**
 * Fencing judged on the store's own history: replay the entries, and at every applied write find
 * the leader (oldest entry) at that revision; the write's token must be its create revision (on
 * PostgreSQL, its seq; on ZooKeeper, its czxid). No allowance of any kind here: every write must match.
 */
function replayEtcd(record: TrialRecord): Violation[] {
  const violations: Violation[] = [];
  const add = (check: Violation['check'], message: string): void => {
    violations.push({ check, message });
  };
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
  const store = record.store ?? 'etcd';
  for (let i = 0; i < history.length; i++) {
    const e = history[i] as KvEvent & { created?: boolean };
    if (e.key.startsWith(record.entryPrefix)) {
      if (e.type === 'PUT') {
        entries.set(e.key, e.createRevision);
        if (e.created ?? e.createRevision === e.modRevision) created.set(e.createRevision, e.key);
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
      add(
        'tokens',
        `${describeTerm(t)} believed it led, but ${store} never had entry ${t.token} as the oldest`,
      );
    // Keys carry the session's lease, so a term paired with another candidate's entry shows here.
    const key = created.get(t.token);
    if (key !== undefined && key !== t.key)
      add('tokens', `${describeTerm(t)} holds ${t.key}, but token ${t.token} is the entry ${key}`);
  }
  for (const w of record.writes) {
    const inHistory = applied.has(`${w.token}/${w.cand}/${w.seq}`);
    if (w.committed === true && !inHistory)
      add(
        'fencing',
        `write ${w.cand}#${w.token} seq ${w.seq} reported committed but ${store} never applied it`,
      );
    else if (w.committed === false && inHistory)
      add('fencing', `write ${w.cand}#${w.token} seq ${w.seq} reported refused but ${store} applied it`);
  }
  if (writesSeen > 0 && record.terms.length === 0)
    add('fencing', `${writesSeen} guarded writes applied although no candidate reported a term`);
  return violations;
}
