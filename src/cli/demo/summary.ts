import { formatMillis } from '../duration.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable, type JsonField } from '../output.js';
import { latency } from './handovers.js';
import type { Invariant, Ledger } from './ledger.js';
import { EXPIRY_SLACK_MS, type ScenarioResult } from './scenario.js';

/** The demo's verdict: one line per invariant, and whether all held. */
export interface Summary {
  ok: boolean;
  checks: { invariant: Invariant; held: boolean; detail: string }[];
}

/** Judges the run: the ledger's live checks plus what only the end can show (announcements, observer). */
export function judge(ledger: Ledger, result: ScenarioResult): Summary {
  ledger.finish();
  checkObserver(ledger, result);
  if (result.handovers.length < 4 && !result.interrupted)
    ledger.violate('scenario', `only ${result.handovers.length} of 4 faults ran`);
  const terms = ledger.terms;
  const tokens = [...terms].sort((a, b) => a.startedAt - b.startedAt).map((t) => t.token);
  const stale = result.stale;
  const committed = ledger.writes.filter((w) => w.committed === true).length;
  const observedLeaders = result.observed.filter((t) => t !== null).length;
  const detail: Record<Invariant, string> = {
    overlap: `${terms.length} terms; believed leadership intervals disjoint on the monotonic clock`,
    tokens: `strictly increasing: ${tokens.join(' → ')}`,
    fencing:
      `${committed} guarded writes committed, none sent after a newer term began; ` +
      (stale
        ? `${stale.candidate} resumed after the pause: term ${stale.token} ${stale.active ? 'still active' : `ended (${stale.reason ?? '?'})`}, ` +
          `guarded write ${stale.committed ? 'COMMITTED' : stale.notSent ? 'refused before sending (NOT_LEADER)' : 'rejected by the backend'}`
        : 'no paused leader was checked'),
    handover: `every handover within its bound (resign/concede ≤ 1 s; crash/pause ≤ TTL + ${+((result.expirySlackMs ?? EXPIRY_SLACK_MS) / 1000).toFixed(2)} s)`,
    announced: 'every term end was reported by its candidate (a killed one is inferred from the kill)',
    observer: `an independent observer saw ${observedLeaders} leaders in token order, then "no leader"`,
    scenario: result.interrupted ? 'interrupted before the end' : 'all 4 faults injected',
  };
  const order: Invariant[] = [
    'overlap',
    'tokens',
    'fencing',
    'handover',
    'announced',
    'observer',
    'scenario',
  ];
  const checks = order.map((invariant) => {
    const broken = ledger.violations.filter((v) => v.invariant === invariant);
    return {
      invariant,
      held: broken.length === 0,
      detail: broken.length ? broken.map((v) => v.message).join('; ') : detail[invariant],
    };
  });
  return { ok: checks.every((c) => c.held) && !result.interrupted, checks };
}

/** The demo's exit code: INVARIANT (8) if an invariant broke, INTERRUPTED on Ctrl-C, else OK. */
export function exitCode(summary: Summary, result: ScenarioResult): number {
  if (result.interrupted) return ExitCode.INTERRUPTED;
  return summary.ok ? ExitCode.OK : ExitCode.INVARIANT;
}

/** The closing table, for people. */
export function renderSummary(summary: Summary, result: ScenarioResult, color: boolean): string {
  const mark = (held: boolean) =>
    held ? (color ? '\x1b[32m✓\x1b[0m' : 'ok') : color ? '\x1b[31m✗\x1b[0m' : 'FAIL';
  const rows = [['#', 'FAULT', 'LEADER', 'NEXT', 'TOKENS', 'HANDOVER', 'BOUND', 'OK']];
  result.handovers.forEach((h, i) => {
    const took = latency(h);
    rows.push([
      String(i + 1),
      h.fault,
      h.from,
      h.to ?? '-',
      `${h.fromToken} → ${h.toToken ?? '?'}`,
      took === undefined ? 'none' : formatMillis(took),
      `≤ ${formatMillis(h.boundMs)}`,
      mark(took !== undefined && took <= h.boundMs),
    ]);
  });
  const checks = summary.checks.map((c) => [mark(c.held), c.invariant, c.detail]);
  const verdict = summary.ok
    ? `PASS: every invariant held (${formatMillis(result.durationMs)})`
    : result.interrupted
      ? 'INTERRUPTED: the demo did not finish'
      : 'FAIL: an invariant was violated (see above)';
  return ['', 'Handovers', formatTable(rows), '', 'Invariants', formatTable(checks), '', verdict].join('\n');
}

/** The closing summary as one JSON object. */
export function summaryJson(
  summary: Summary,
  result: ScenarioResult,
): { event: string; [key: string]: JsonField } {
  return {
    event: 'summary',
    ok: summary.ok,
    durationMs: Math.round(result.durationMs),
    handovers: result.handovers.map((h) => ({
      fault: h.fault,
      from: h.from,
      to: h.to ?? null,
      fromToken: h.fromToken,
      toToken: h.toToken ?? null,
      latencyMs: roundTenth(latency(h)),
      boundMs: h.boundMs,
    })),
    checks: summary.checks.map((c) => ({ invariant: c.invariant, held: c.held, detail: c.detail })),
  };
}

function checkObserver(ledger: Ledger, result: ScenarioResult): void {
  if (result.interrupted) return;
  const seen = result.observed;
  const known = new Set(ledger.terms.map((t) => t.token));
  const leaders = seen.filter((t): t is bigint => t !== null);
  for (let i = 1; i < leaders.length; i++)
    if ((leaders[i] as bigint) <= (leaders[i - 1] as bigint))
      ledger.violate('observer', `observer saw token ${leaders[i]} after ${leaders[i - 1]}`);
  for (const t of leaders)
    if (!known.has(t))
      ledger.violate('observer', `observer saw a leader with token ${t} that no candidate reported`);
  if (seen.at(-1) !== null)
    ledger.violate('observer', 'observer did not see "no leader" after everyone left');
}

function roundTenth(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms * 10) / 10;
}
