import { systemClock, type LeaderChange, type TermEndReason } from '../index.js';

/** A value a JSON line may carry; bigints (tokens) are written as decimal strings. */
export type JsonField =
  string | number | boolean | null | bigint | JsonField[] | { [key: string]: JsonField };

/** What an `elected` line reports. */
export interface ElectedInfo {
  election: string;
  value: string;
  key: string;
  token: bigint;
}

/**
 * Everything a command reports, as human lines or, with --json, one JSON object per line.
 * The JSON field names are a contract with outside scripts: add fields, never rename them.
 */
export class Output {
  /** Whether lines are JSON objects. */
  readonly json: boolean;
  private readonly stream: NodeJS.WritableStream;

  constructor(json: boolean, stream: NodeJS.WritableStream = process.stdout) {
    this.json = json;
    this.stream = stream;
  }

  /** This candidate now leads. */
  elected(info: ElectedInfo): void {
    this.event(
      { event: 'elected', election: info.election, value: info.value, key: info.key, token: info.token },
      `elected ${info.election}: ${info.value} (token ${info.token}, key ${info.key})`,
    );
  }

  /** This candidate's term ended, and why. */
  deposed(election: string, reason: TermEndReason): void {
    this.event({ event: 'deposed', election, reason }, `deposed ${election}: ${reason}`);
  }

  /**
   * The election's leader, none, or unknown (cut off from the backend; value, key and token null
   * for both). `now` is the backend clock's time, to say how long contact has been lost.
   */
  leader(change: LeaderChange, now = systemClock.now()): void {
    const silentMs = change.kind === 'unknown' ? Math.max(0, Math.round(now - change.since)) : undefined;
    this.event(
      {
        event: 'leader',
        kind: change.kind,
        election: change.election,
        value: change.value,
        key: change.key,
        token: change.token,
        ...(silentMs === undefined ? {} : { silent_ms: silentMs }),
      },
      change.kind === 'leader'
        ? `leader ${change.election}: ${change.value} (token ${change.token}, key ${change.key})`
        : change.kind === 'none'
          ? `leader ${change.election}: none`
          : `leader ${change.election}: unknown (no contact with the backend for ${Math.round((silentMs ?? 0) / 1000)} s)`,
    );
  }

  /** Writes one event: `fields` as a JSON line, or the `human` line. */
  event(fields: { event: string; [key: string]: JsonField | undefined }, human: string): void {
    this.stream.write(`${this.json ? jsonLine(fields) : human}\n`);
  }

  /** Writes a human-only note (skipped with --json, where every line must be an event). */
  note(human: string): void {
    if (!this.json) this.stream.write(`${human}\n`);
  }
}

/**
 * One --json line: `fields` stamped with `ts`, the wall-clock time of writing (ISO 8601, UTC, ms),
 * so that lines collected from several processes can be put in order.
 */
export function jsonLine(fields: { [key: string]: JsonField | undefined }): string {
  return toJson({ ts: new Date().toISOString(), ...fields });
}

/** JSON text of a value, with bigints as decimal strings and undefined fields left out. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Lays out rows as left-aligned columns separated by two spaces. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)),
        )
        .join('  '),
    )
    .join('\n');
}

/** Length of a string as shown on a terminal, ignoring ANSI colour codes. */
export function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

const END_REASONS: Record<TermEndReason, string> = {
  resigned: 'this candidate resigned',
  'session-lost': "the backend reports the session's lease gone",
  unreachable: 'no keepalive was acknowledged before the session deadline, so the lease may have expired',
  'key-deleted': 'someone else deleted the leader key (e.g. `ballot resign`)',
  closed: 'the session was closed',
  transferred: 'this candidate handed leadership to another (transfer)',
};

/** Why a term ended, in words for the stderr message. */
export function describeEnd(election: string, token: bigint, reason: TermEndReason): string {
  return `term ${token} of ${election} ended: ${END_REASONS[reason]}`;
}
