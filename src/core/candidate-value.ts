/**
 * What a candidate stores in its entry besides its value: where it serves (advertise) and its
 * priority. Encoding, version 1: a value with neither is stored exactly as given, so every other
 * tool (`etcdctl elect -l`, Curator's getParticipants) keeps seeing plain strings; with either, the
 * stored text is
 *
 *     <value> ballot/v1{"advertise":{"http":"http://10.0.0.5:8080"},"priority":5}
 *
 * one line, the value first so it stays readable, then the marker and compact JSON. A stored text
 * that does not end in a well-formed marker and object (whose http address, if any, is an http(s)
 * URL) is a plain value: nothing fails to parse. A plain value that ends in such a marker itself
 * is stored with an empty one (`<value> ballot/v1{}`).
 */
import { InvalidArgumentError } from './errors.js';

/** Where a candidate serves, by protocol: `http` is an http(s) URL, `grpc` a gRPC target; other names are free. */
export type Advertise = Readonly<Record<string, string>> & { readonly http?: string; readonly grpc?: string };

/** What a candidate publishes with its value: its addresses and its priority (higher leads, see priority). */
export interface CandidateMeta {
  /** Where this candidate serves; followers forward to the leader's. */
  readonly advertise?: Advertise;
  /** Rank for priority transfer (a leader hands over to a waiting candidate with a higher one); default 0. */
  readonly priority?: number;
}

/** A stored entry text read back: the candidate's value and what it published with it. */
export interface DecodedValue extends CandidateMeta {
  /** The value as the candidate gave it. */
  readonly value: string;
}

const MARK = ' ballot/v1';

/** The text stored for `value` with `meta`: `value` itself when meta publishes nothing. */
export function encodeCandidateValue(value: string, meta: CandidateMeta = {}): string {
  const advertise = meta.advertise && Object.keys(meta.advertise).length > 0 ? meta.advertise : undefined;
  const priority = meta.priority !== undefined && meta.priority !== 0 ? meta.priority : undefined;
  // A plain value that itself reads as the v1 form would lose its tail when read back: it gets an
  // empty marker of its own, which decoding strips.
  if (advertise === undefined && priority === undefined)
    return decodeCandidateValue(value).value === value ? value : `${value}${MARK}{}`;
  return `${value}${MARK}${JSON.stringify({ advertise, priority })}`;
}

/** Splits a stored entry text into value and meta; anything not in the v1 form is a plain value. */
export function decodeCandidateValue(stored: string): DecodedValue {
  const at = stored.lastIndexOf(`${MARK}{`);
  if (at < 0 || !stored.endsWith('}')) return { value: stored };
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored.slice(at + MARK.length));
  } catch {
    return { value: stored };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { value: stored };
  const { advertise, priority } = parsed as { advertise?: unknown; priority?: unknown };
  const decoded: { value: string; advertise?: Advertise; priority?: number } = { value: stored.slice(0, at) };
  // Another writer's entry (etcdctl, another client) is not checked like ours: an http address that
  // is no URL would make every follower's gate throw building its forward or redirect.
  if (isAdvertise(advertise) && (advertise.http === undefined || isHttpUrl(advertise.http)))
    decoded.advertise = advertise;
  else if (advertise !== undefined) return { value: stored };
  if (typeof priority === 'number' && Number.isFinite(priority)) decoded.priority = priority;
  else if (priority !== undefined) return { value: stored };
  return decoded;
}

/** Throws InvalidArgumentError unless `meta` can be published: URLs that parse, a finite priority. */
export function checkCandidateMeta(meta: CandidateMeta): CandidateMeta {
  const { advertise, priority } = meta;
  if (advertise !== undefined) {
    if (!isAdvertise(advertise))
      throw new InvalidArgumentError(
        "advertise must map protocol names to address strings, like { http: 'http://10.0.0.5:8080' }",
      );
    const http = advertise.http;
    if (http !== undefined && !isHttpUrl(http))
      throw new InvalidArgumentError(
        `advertise.http must be an absolute http:// or https:// URL, got ${JSON.stringify(http)}`,
      );
  }
  if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority)))
    throw new InvalidArgumentError(`priority must be a finite number, got ${String(priority)}`);
  return meta;
}

function isAdvertise(value: unknown): value is Advertise {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((address) => typeof address === 'string' && address !== '');
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
