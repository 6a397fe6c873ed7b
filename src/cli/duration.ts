import { UsageError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/;

/** Parses "500ms", "2s", "1.5m", "1h" or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, what: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new UsageError(`${what} must be a duration such as 500ms, 2s or 1m, got "${text}"`);
  return Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000);
}

/** Parses a TTL: a whole number of seconds, at least 1 ("10" or "10s"); the library checks the upper bound. */
export function parseTtl(text: string): number {
  // Not parseDuration's own message: its examples (500ms) are no TTL.
  const ms = DURATION.test(text) ? parseDuration(text, '--ttl') : NaN;
  if (!(ms >= 1000) || ms % 1000 !== 0)
    throw new UsageError(
      `--ttl must be a whole number of seconds, at least 1, e.g. 10 or 10s, got "${text}"`,
    );
  return ms / 1000;
}

/** Formats milliseconds for people: "850 ms", "2.03 s". */
export function formatMillis(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (Math.abs(ms) < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
