import type { BackendWarning } from '../../core/contract.js';

/**
 * etcd server bugs that weaken what ballot can promise, by server version: read from the Status
 * RPC's `version` at connect (a startup warning) and by `ballot doctor`.
 */

/** Whether a server version has the fix for a known bug. */
export type BugVerdict = 'affected' | 'fixed' | 'unknown';

/** One known etcd bug and the first releases of each line that fix it. */
export interface KnownBug {
  /** Stable kebab-case code, also the BackendWarning code. */
  code: string;
  /** Short title naming etcd's issue. */
  title: string;
  /** What the bug means for ballot's guarantees, in one sentence. */
  consequence: string;
  /** First fixed release per minor line, e.g. "3.4" -> [3, 4, 31]; lines not listed are judged by FIXED_FROM. */
  fixedIn: readonly (readonly [number, number, number])[];
}

/**
 * etcd bug #15247 (also #12528): a raft leader that was paused or cut off long enough for the
 * others to elect a new one still believes it leads when it resumes, finds leases it has not heard
 * renewed and proposes revoking them, and the cluster applies the revoke. Live leases go early, and
 * their keys with them. Fixed on main by etcd PR #16822 (first in v3.6.0-rc.0; v3.6.0-alpha.0
 * predates it), backported as PR #17465 to v3.4.31 and as PR #17425 to v3.5.13, per etcd's
 * CHANGELOG-3.4.md and CHANGELOG-3.5.md ("Fix leases wrongly revoked by the leader by ignoring old
 * leader's leases revoking request"). Lines before 3.4 never got the fix.
 */
export const EARLY_REVOCATION: KnownBug = {
  code: 'etcd-early-revocation',
  title: 'etcd bug #15247: a paused raft leader revokes live leases when it resumes',
  consequence:
    'no-overlap of believed leadership holds only while the raft leader is not paused; fencing holds always',
  fixedIn: [
    [3, 4, 31],
    [3, 5, 13],
    [3, 6, 0],
  ],
};

/** A parsed "major.minor.patch[-pre]" version. */
interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

function parse(version: string): Version | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(version.trim());
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), pre: match[4] ?? '' };
}

/**
 * Whether etcd `version` (as the Status RPC reports it, e.g. "3.4.23") has the fix for `bug`.
 * A minor line newer than every listed one is fixed, an older one affected; a pre-release of a
 * first fixed x.y.0 counts as fixed only from its release candidates on (the 3.6 alphas predate
 * the fix); anything unparsable is 'unknown'.
 */
export function verdict(version: string, bug: KnownBug = EARLY_REVOCATION): BugVerdict {
  const v = parse(version);
  if (!v) return 'unknown';
  const line = bug.fixedIn.find(([major, minor]) => major === v.major && minor === v.minor);
  if (!line) {
    const newest = bug.fixedIn.at(-1);
    if (!newest) return 'unknown';
    const newer = v.major > newest[0] || (v.major === newest[0] && v.minor > newest[1]);
    return newer ? 'fixed' : 'affected';
  }
  const first = line[2];
  if (v.patch !== first) return v.patch > first ? 'fixed' : 'affected';
  if (v.pre === '') return 'fixed';
  return v.pre.startsWith('rc') ? 'fixed' : 'affected';
}

/** "3.4.31, 3.5.13, 3.6.0": the first fixed release of each line, for messages. */
export function fixedInText(bug: KnownBug = EARLY_REVOCATION): string {
  return bug.fixedIn.map((v) => v.join('.')).join(', ');
}

/**
 * Reports to `sink` the known bugs of etcd `version` at `endpoint` (one Status answer). Quiet: a
 * server bug is the operator's to fix, and Debian 12's etcd 3.4.23 has this one, so it must not
 * print a process warning in every program that uses ballot and listens to nothing (see
 * BackendWarning.quiet); `ballot doctor` and the CLI's --log-level show it.
 */
export function reportKnownBugs(
  version: string,
  endpoint: string,
  sink: ((warning: BackendWarning) => void) | undefined,
): void {
  if (!sink || verdict(version) !== 'affected') return;
  sink({
    code: EARLY_REVOCATION.code,
    message:
      `etcd ${version} at ${endpoint} has ${EARLY_REVOCATION.title} (fixed in ${fixedInText()}): ` +
      `${EARLY_REVOCATION.consequence}. Upgrade etcd; \`ballot doctor\` checks every member.`,
    quiet: true,
  });
}
