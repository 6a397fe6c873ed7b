import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../core/errors.js';
import { escapeName } from '../shared/names.js';

/**
 * Where elections live in the tree, and how their nodes are named: Curator's layout, so that a
 * Curator LeaderLatch (or InterProcessMutex) and ballot share one election on the same path.
 * A candidate is `<path>/_c_<uuid>-latch-<10-digit sequence>` (a lock holder: `-lock-`), holding
 * its participant id (the campaign value) as UTF-8; the line is the children sorted by the text
 * after the last `latch-`, the lowest leads.
 */

/** An election's candidates (`latch`, as LeaderLatch) or a mutex's (`lock`, as InterProcessMutex). */
export type NodeKind = 'latch' | 'lock';

/** Which candidates a line holds: one kind, or either (a session-less read does not know which a name is). */
export type LineKind = NodeKind | 'any';

/** Where names that are not paths keep their elections: `/ballot/<escaped name>`. */
export const ELECTIONS_ROOT = '/ballot';
/** Where guards' put/delete/get keep keys that are not paths: `/ballot-kv/<escaped key>`. */
export const KV_ROOT = '/ballot-kv';

/**
 * ZooKeeper refuses these UTF-16 units in a path (PathUtils.validatePath), surrogate pairs
 * included, as well as '.' and '..' as names.
 */
function hasIllegal(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0) return true;
  }
  return false;
}

/** Throws unless `path` is an absolute ZooKeeper path a node can have; returns it. */
export function checkPath(path: string, what: string): string {
  const segments = path.split('/').slice(1);
  const bad =
    !path.startsWith('/') ||
    path === '/' ||
    path.endsWith('/') ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    hasIllegal(path) ||
    path === '/zookeeper' ||
    path.startsWith('/zookeeper/');
  if (bad)
    throw new InvalidArgumentError(
      `${what} "${path}" is not a ZooKeeper path ballot can use: it must start with "/", have no empty, "." ` +
        `or ".." segment, no trailing "/", no control characters, and not be under /zookeeper (e.g. "/services/jobs/leader")`,
    );
  return path;
}

/**
 * The znode path of an election or mutex: a name that starts with "/" is the path itself (what a
 * Curator LeaderLatch is given); any other name lives under /ballot, escaped so that "x" and
 * "x/sub" are separate elections.
 */
export function electionPath(name: string): string {
  if (name.startsWith('/')) return checkPath(name, 'election path');
  return checkPath(`${ELECTIONS_ROOT}/${escapeName(name)}`, 'election name');
}

/** The election name of a path, as electionPath() made it (the inverse). */
export function nameOfPath(path: string): string {
  const prefix = `${ELECTIONS_ROOT}/`;
  if (path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
    return path.slice(prefix.length).replace(/%(25|2F)/g, (_, c: string) => (c === '25' ? '%' : '/'));
  return path;
}

/** The node of a guard's key-value key: a path as is, any other key under /ballot-kv. */
export function kvPath(key: string): string {
  if (key.startsWith('/')) return checkPath(key, 'key');
  return checkPath(`${KV_ROOT}/${escapeName(key)}`, 'key');
}

/**
 * The uuid of one session's candidate in one election: derived, not random, so that after a
 * lost reply to the create (or a second join), the node is found again among the children by it.
 * It is shaped as a version-8 uuid (Curator's are random, version 4), which is how a ballot
 * candidate is told from a Curator one (see isBallotCandidate).
 */
export function candidateUuid(sessionId: string, path: string, kind: NodeKind): string {
  const h = createHash('sha256').update(`${sessionId}\0${path}\0${kind}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-b${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Whether a candidate node (its name or path) was created by ballot. Curator's LeaderLatch does not
 * watch its own node, so deleting a Curator leader's node makes two leaders: the operator's
 * depose (`ballot resign`) checks this first.
 */
export function isBallotCandidate(node: string): boolean {
  return /(^|\/)_c_[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-b[0-9a-f]{3}-[0-9a-f]{12}-(latch|lock)-\d{10}$/.test(
    node,
  );
}

/** The name prefix a candidate node is created with (ZooKeeper appends the sequence). */
export function candidatePrefix(uuid: string, kind: NodeKind): string {
  return `_c_${uuid}-${kind}-`;
}

/** The sort key of a child: the text after the last `<kind>-`, or undefined for a child that is not a candidate. */
function sequenceOf(child: string, kind: LineKind): string | undefined {
  if (kind === 'any') return sequenceOf(child, 'latch') ?? sequenceOf(child, 'lock');
  const marker = `${kind}-`;
  const at = child.lastIndexOf(marker);
  if (at < 0) return undefined;
  const seq = child.slice(at + marker.length);
  return /^\d{10}$/.test(seq) ? seq : undefined;
}

/**
 * The line: the candidates among `children`, lowest sequence first (the text compared as Curator
 * compares it). Children that are not candidates of this kind are left out. Latch and lock nodes
 * under one parent take their sequence from the same counter, so 'any' orders them together.
 */
export function sortLine(children: readonly string[], kind: LineKind): string[] {
  return children
    .map((child) => ({ child, seq: sequenceOf(child, kind) }))
    .filter((c): c is { child: string; seq: string } => c.seq !== undefined)
    .sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0))
    .map((c) => c.child);
}
