import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../index.js';
import type { JsonField } from '../output.js';
import { formatMillis } from '../duration.js';
import type { StaleWrite } from './candidate.js';
import { Handovers, latency, type FaultKind, type Handover } from './handovers.js';
import type { Harness } from './harness.js';
import type { Ledger } from './ledger.js';

/** Where the scenario reports what happens, as it happens. */
export interface DemoLog {
  /** One event: `kind` and `fields` for JSON, `human` for people; `at` (monotonic ms) when it happened, if not now. */
  event(kind: string, fields: { [key: string]: JsonField }, human: string, at?: number): void;
}

/** What the scenario found, for the summary. */
export interface ScenarioResult {
  handovers: Handover[];
  stale?: StaleWrite;
  /** Leader tokens an independent observer saw, in order; null for "no leader". */
  observed: (bigint | null)[];
  interrupted: boolean;
  durationMs: number;
  /** What the crash and pause handovers were allowed beyond the TTL, when not EXPIRY_SLACK_MS. */
  expirySlackMs?: number;
}

/** The five candidates, named so the queue reads in order at a glance. */
export const CANDIDATES = ['c1', 'c2', 'c3', 'c4', 'c5'];

/** Handover bounds (invariant 3): a resign takes about a round trip, a dead leader about a TTL. */
const PROMPT_BOUND_MS = 1000;
/** How long after its TTL a dead leader's entry goes, unless the harness says otherwise. */
export const EXPIRY_SLACK_MS = 1500;

/**
 * The demo's script: 5 candidates join; then a resign, a crash, a pause longer than the TTL and a
 * concede, each followed by a handover whose latency is measured; then everyone leaves. The ledger
 * checks overlap, tokens and fencing on every report; this script checks the handovers and the
 * stale write.
 */
export async function runScenario(
  harness: Harness,
  ledger: Ledger,
  ttl: number,
  log: DemoLog,
  signal: AbortSignal,
  /** How long to dwell between faults: long enough to read a live view, short for logs and tests. */
  dwellMs = 1200,
): Promise<ScenarioResult> {
  const clock = systemClock;
  const began = clock.now();
  const handovers = new Handovers();
  const result: ScenarioResult = {
    handovers: handovers.all,
    observed: [],
    interrupted: false,
    durationMs: 0,
  };
  if (harness.expirySlackMs !== undefined) result.expirySlackMs = harness.expirySlackMs;
  const expiryBound = ttl * 1000 + (harness.expirySlackMs ?? EXPIRY_SLACK_MS);
  /** Sleeps; false if the demo was interrupted meanwhile. `cancel` ends the sleep early (no timer left behind). */
  const wait = (ms: number, cancel?: AbortSignal) =>
    sleep(Math.max(0, ms), undefined, { signal: cancel ? AbortSignal.any([signal, cancel]) : signal }).then(
      () => !signal.aborted,
      () => false,
    );

  // Reports of a term's end and of the next election come from different candidates (processes,
  // on etcd) and can arrive in either order; the output follows the term order instead: an
  // election is printed only once every older term's end has been.
  const heldBack: { token: bigint; print: () => void }[] = [];
  const releaseHeld = (all = false) => {
    while (heldBack.length > 0 && (all || !ledger.olderOpen(heldBack[0]!.token))) heldBack.shift()!.print();
  };

  harness.on('elected', (e) => {
    ledger.opened(e.candidate, e.token, e.key, e.startedAt);
    const h = handovers.elected(e.candidate, e.token, e.startedAt);
    const took = h ? latency(h) : undefined;
    heldBack.push({
      token: e.token,
      print: () =>
        log.event(
          'elected',
          { candidate: e.candidate, token: e.token, key: e.key, handoverMs: took ?? null },
          `${e.candidate} elected, token ${e.token}` +
            (h && took !== undefined ? `: handover ${formatMillis(took)} after the ${h.fault}` : ''),
          e.startedAt,
        ),
    });
    releaseHeld();
    if (h && took !== undefined && took > h.boundMs)
      ledger.violate(
        'handover',
        `handover after the ${h.fault} took ${formatMillis(took)}, over its ${formatMillis(h.boundMs)} bound`,
      );
  });
  harness.on('deposed', (e) => {
    ledger.closed(e.token, e.endedAt, e.reason, e.announced);
    log.event(
      'deposed',
      { candidate: e.candidate, token: e.token, reason: e.reason },
      `${e.candidate} term ${e.token} ended: ${e.reason}${e.announced ? '' : ' (inferred: the process is gone)'}`,
      // A paused candidate reports its end only once it runs again: stamp the end, not the report.
      e.endedAt > 0 ? e.endedAt : undefined,
    );
    releaseHeld();
  });
  harness.on('write', ({ candidate, ...w }) => ledger.wrote({ cand: candidate, ...w }));
  harness.on('failed', (e) => ledger.violate('scenario', `${e.candidate}'s elector stopped: ${e.message}`));

  const observing = new AbortController();
  const observer = (async () => {
    try {
      for await (const change of harness.observe(observing.signal))
        // 'unknown' says the observer lost contact, not that nobody leads: it is no observation.
        if (change.kind !== 'unknown') result.observed.push(change.token);
    } catch (err) {
      if (!observing.signal.aborted) ledger.violate('observer', `observer failed: ${(err as Error).message}`);
    }
  })();

  /** Injects one fault into the current leader and waits for the next leader. */
  const fault = async (
    kind: FaultKind,
    what: string,
    boundMs: number,
    inject: (leader: string) => Promise<void>,
  ): Promise<string | undefined> => {
    const current = ledger.current();
    if (!current) {
      ledger.violate('scenario', `no leader to ${kind}`);
      return undefined;
    }
    const at = clock.now();
    const next = handovers.begin(kind, current.cand, current.token, at, boundMs);
    log.event(
      'fault',
      { fault: kind, candidate: current.cand, token: current.token },
      `${kind} ${current.cand}: ${what}`,
    );
    await inject(current.cand);
    const gaveUp = new AbortController();
    const done = await Promise.race([next, wait(boundMs + 5000, gaveUp.signal).then(() => undefined)]);
    gaveUp.abort();
    if (!done && !signal.aborted)
      ledger.violate('handover', `no new leader within ${formatMillis(boundMs + 5000)} after the ${kind}`);
    return current.cand;
  };

  try {
    for (const name of CANDIDATES) {
      await harness.start(name);
      if (!(await wait(100))) break;
    }
    if (!(await wait(dwellMs))) return result;

    const resigned = await fault('resign', 'resigns and leaves, as on a deploy', PROMPT_BOUND_MS, (n) =>
      harness.leave(n),
    );
    if (!(await wait(300))) return result;
    if (resigned) {
      log.event('rejoin', { candidate: resigned }, `${resigned} restarts and queues at the back`);
      await harness.start(resigned);
    }
    if (!(await wait(dwellMs))) return result;

    const crashed = await fault(
      'crash',
      'dies without resigning; its lease must expire first',
      expiryBound,
      (n) => harness.crash(n),
    );
    if (signal.aborted) return result;
    if (crashed) {
      log.event(
        'rejoin',
        { candidate: crashed },
        `${crashed} is restarted by its supervisor and queues at the back`,
      );
      await harness.start(crashed);
    }
    if (!(await wait(dwellMs))) return result;

    const pauseMs = ttl * 1000 + 1000;
    const pausedAt = clock.now();
    const paused = await fault(
      'pause',
      `stops for ${formatMillis(pauseMs)}, longer than the ${ttl}s TTL`,
      expiryBound,
      (n) => harness.pause(n),
    );
    if (!(await wait(pausedAt + pauseMs - clock.now()))) return result;
    if (paused) {
      const stale = await harness.resume(paused);
      if (stale) result.stale = stale;
      checkStaleWrite(ledger, log, paused, stale);
    }
    if (!(await wait(dwellMs))) return result;

    await fault('concede', 'steps aside and queues again at the back', PROMPT_BOUND_MS, (n) =>
      harness.concede(n),
    );
    if (!(await wait(dwellMs))) return result;

    log.event('shutdown', {}, 'everyone leaves: queued candidates first, then the leader');
    await harness.stopAll();
    // Give the observer a moment to see "no leader" before it is stopped.
    await wait(300);
    return result;
  } finally {
    // A term whose end never came is the ledger's to flag; its successor's election still shows.
    releaseHeld(true);
    result.interrupted = signal.aborted;
    observing.abort();
    await observer;
    result.durationMs = clock.now() - began;
  }
}

function checkStaleWrite(ledger: Ledger, log: DemoLog, name: string, stale: StaleWrite | undefined): void {
  if (!stale) {
    ledger.violate('fencing', `${name} resumed without a term to write with`);
    return;
  }
  log.event(
    'stale-write',
    {
      candidate: name,
      token: stale.token,
      active: stale.active,
      reason: stale.reason,
      committed: stale.committed,
    },
    `${name} resumes: its term ${stale.token} ${stale.active ? 'still looks current!' : `already ended (${stale.reason ?? '?'})`}; ` +
      `its guarded write was ${stale.committed ? 'COMMITTED' : stale.notSent ? 'refused before sending (NOT_LEADER)' : stale.error ? `not sent (${stale.error})` : 'rejected by the backend'}`,
  );
  if (stale.active)
    ledger.violate('fencing', `${name} still believed it led after a pause longer than the TTL`);
  else if (stale.reason !== 'unreachable')
    ledger.violate(
      'fencing',
      `${name}'s term ended as "${stale.reason ?? 'unknown'}", expected "unreachable"`,
    );
  // A stale write that committed is the checker's to flag: the ledger has it as a write record.
  if (stale.error)
    ledger.violate('fencing', `${name}'s stale write failed instead of being refused: ${stale.error}`);
}
