/** What the process fault tests check the same way on every backend. */
import assert from 'node:assert/strict';
import type { JsonObject, Worker } from './fixtures/processes.js';
import { eventually, sleep, within } from './helpers.js';

/**
 * Stops `leader` (SIGSTOP) until `takeover` resolves with the successor's `elected` message, resumes
 * it, and checks what a leader paused past its TTL must see: its term ended as unreachable before the
 * successor's began, and the guarded write it tried afterwards was refused. Returns that message.
 */
export async function pauseLeaderPastTtl(
  leader: Worker,
  takeover: () => Promise<JsonObject>,
): Promise<JsonObject> {
  leader.kill('SIGSTOP');
  let successor: JsonObject;
  try {
    successor = await takeover();
  } finally {
    leader.kill('SIGCONT');
  }
  const ended = await leader.waitFor((m) => m['event'] === 'ended', 10_000);
  const fenced = await leader.waitFor(
    (m) => m['event'] === 'stale-guard' || m['event'] === 'stale-guard-error',
    10_000,
  );
  assert.equal(ended['reason'], 'unreachable', 'the deadline ended it, while paused');
  assert.ok(
    (ended['at'] as number) < (successor['at'] as number),
    `the paused term ended at ${String(ended['at'])}, the next began at ${String(successor['at'])}`,
  );
  // Refused either way: not sent once the term is known to have ended, or by the backend.
  if (fenced['event'] === 'stale-guard-error')
    assert.equal(fenced['code'], 'NOT_LEADER', String(fenced['message']));
  else assert.equal(fenced['committed'], false, 'the backend rejected the stale guarded write');
  return successor;
}

/** One term as its own process reported it, on CLOCK_MONOTONIC; end Infinity while still open. */
export interface TermSpan {
  who: string;
  token: bigint;
  start: number;
  end: number;
}

/** Every term the workers reported ('elected', then 'ended' with the same token), in order of their start. */
export function spans(workers: readonly Worker[]): TermSpan[] {
  const out: TermSpan[] = [];
  for (const w of workers) {
    for (const m of w.messages) {
      if (m['event'] !== 'elected') continue;
      const token = String(m['token']);
      const ended = w.messages.find((x) => x['event'] === 'ended' && x['token'] === token);
      out.push({
        who: String(m['value']),
        token: BigInt(token),
        start: m['at'] as number,
        end: ended ? (ended['at'] as number) : Infinity,
      });
    }
  }
  return out.sort((x, y) => x.start - y.start);
}

/** No two terms overlap on the monotonic clock, and tokens grow with the start of terms. */
export function assertNoOverlap(all: readonly TermSpan[]): void {
  const shown = () =>
    all.map((s) => `${s.who}#${s.token} [${s.start.toFixed(1)}, ${s.end.toFixed(1)}]`).join(', ');
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1]!;
    const next = all[i]!;
    assert.ok(prev.end < next.start, `terms overlap: ${shown()}`);
    assert.ok(prev.token < next.token, `tokens do not grow with time: ${shown()}`);
  }
}

/** Waits until every term but the latest has reported its end, then checks them. */
export async function settledSpans(ws: readonly Worker[]): Promise<TermSpan[]> {
  await eventually(() => spans(ws).filter((s) => s.end === Infinity).length <= 1, 10_000, 'terms to settle');
  const all = spans(ws);
  assertNoOverlap(all);
  return all;
}

/** Asks the worker to close its backend and waits for it to exit by itself: exit 0, nothing left open. */
export async function closesByItself(w: Worker): Promise<void> {
  w.send({ cmd: 'close' });
  const code = await within(w.exited, 10_000, `worker ${w.pid} to exit after backend.close()`);
  assert.equal(code, 0, `worker exited with ${String(code)}: ${w.output()}`);
}

/** The worker is still running. */
export async function assertAlive(w: Worker): Promise<void> {
  const done = await Promise.race([w.exited.then(() => true), sleep(0).then(() => false)]);
  assert.equal(done, false, `worker ${w.pid} died: ${w.output()}`);
}
