import { checkOptions } from '../../backends/postgres/options.js';
import { adapterFor } from '../../backends/postgres/source.js';
import { EARLY_REVOCATION, fixedInText, verdict, type BugVerdict } from '../../backends/etcd/known-bugs.js';
import { EtcdClient } from '../../etcd/client.js';
import { BackendUnavailableError, zookeeper } from '../../index.js';
import { translate } from '../../postgres/errors.js';
import { explainUnavailable } from '../connect.js';
import { describeError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { etcdOptions, postgresOptions, zookeeperOptions, type GlobalOptions } from '../options.js';
import { Output } from '../output.js';

/** What one etcd endpoint answered (or why it did not). */
interface EndpointCheck {
  endpoint: string;
  version?: string;
  /** Whether this member is the raft leader, by its own Status. */
  raftLeader?: boolean;
  error?: unknown;
}

/**
 * `ballot doctor`: which backend the flags reach, and what its server version means for ballot's
 * guarantees. On etcd every endpoint is asked for its Status on its own (members of one cluster can
 * run different versions during an upgrade), and each version is checked for etcd bug #15247. Exits
 * 0 whenever the backend answers, a known bug included (it is a warning, not a failure); exits
 * UNAVAILABLE (5) only when no endpoint answers, AUTH (6) when the credentials are refused.
 */
export async function doctor(options: GlobalOptions): Promise<number> {
  const out = new Output(options.json);
  if (options.backend === 'etcd') return doctorEtcd(options, out);
  if (options.backend === 'postgres') return doctorPostgres(options, out);
  if (options.backend === 'zookeeper') return doctorZookeeper(options, out);
  out.event(
    { event: 'doctor', backend: 'memory', reachable: true, version: null },
    'backend memory: embedded in this process, always reachable (known server bugs: none to check)',
  );
  return ExitCode.OK;
}

async function doctorEtcd(options: GlobalOptions, out: Output): Promise<number> {
  const checks = await Promise.all(options.endpoints.map((endpoint) => askEndpoint(options, endpoint)));
  for (const check of checks) {
    if (check.version === undefined) {
      out.event(
        {
          event: 'endpoint',
          backend: 'etcd',
          endpoint: check.endpoint,
          reachable: false,
          error: describe(check.error),
        },
        `endpoint ${check.endpoint}: ${check.error instanceof BackendUnavailableError ? 'not reached' : 'failed'} (${describe(check.error)})`,
      );
      continue;
    }
    const bug = verdict(check.version);
    out.event(
      {
        event: 'endpoint',
        backend: 'etcd',
        endpoint: check.endpoint,
        reachable: true,
        version: check.version,
        raft_leader: check.raftLeader ?? null,
        early_revocation: bug,
      },
      `endpoint ${check.endpoint}: etcd ${check.version}${check.raftLeader ? ' (raft leader)' : ''}, ` +
        `bug #15247 ${bugWords(bug)}`,
    );
  }
  const reached = checks.filter((c) => c.version !== undefined);
  if (reached.length === 0) {
    const refused = checks.find(
      (c) => c.error !== undefined && !(c.error instanceof BackendUnavailableError),
    );
    if (refused) throw refused.error;
    throw new BackendUnavailableError(
      `cannot reach etcd within ${options.dialTimeout} ms at ${options.endpoints.join(', ')}: ` +
        'check the endpoints (--endpoints, $BALLOT_ENDPOINTS, $ETCDCTL_ENDPOINTS) and that etcd is running',
    );
  }
  const verdicts = reached.map((c) => verdict(c.version ?? ''));
  const overall: BugVerdict = verdicts.includes('affected')
    ? 'affected'
    : verdicts.includes('unknown')
      ? 'unknown'
      : 'fixed';
  out.event(
    {
      event: 'doctor',
      backend: 'etcd',
      mode: options.mode,
      endpoints: checks.length,
      reached: reached.length,
      early_revocation: overall,
      fixed_in: fixedInText(),
      guarantee: overall === 'fixed' ? 'no-overlap and fencing' : EARLY_REVOCATION.consequence,
    },
    summary(options, checks, overall),
  );
  return ExitCode.OK;
}

function summary(options: GlobalOptions, checks: EndpointCheck[], overall: BugVerdict): string {
  const reached = checks.filter((c) => c.version !== undefined);
  const lines = [
    `backend etcd (mode ${options.mode}): ${reached.length} of ${checks.length} endpoint(s) reached`,
  ];
  if (overall === 'fixed') {
    lines.push(`every member reached has the fix for ${EARLY_REVOCATION.title}`);
    return lines.join('\n');
  }
  const suspect = reached
    .filter((c) => verdict(c.version ?? '') !== 'fixed')
    .map((c) => `${c.endpoint} (${c.version})`)
    .join(', ');
  lines.push(
    `warning: ${EARLY_REVOCATION.title}`,
    `  ${overall === 'affected' ? 'affects' : 'may affect'} ${suspect}; fixed in ${fixedInText()} and later.`,
    `  Until every member runs a fixed release: ${EARLY_REVOCATION.consequence}.`,
  );
  return lines.join('\n');
}

function bugWords(bug: BugVerdict): string {
  if (bug === 'affected') return `present (fixed in ${fixedInText()})`;
  if (bug === 'fixed') return 'fixed';
  return 'unknown (unrecognised version)';
}

/** Status of one endpoint alone, on a client of its own, so that no failover hides a member. */
async function askEndpoint(options: GlobalOptions, endpoint: string): Promise<EndpointCheck> {
  const client = new EtcdClient({ ...etcdOptions(options), endpoints: [endpoint] });
  try {
    const status = await client.status(options.dialTimeout);
    return {
      endpoint,
      version: status.version,
      raftLeader: status.leader !== '0' && status.leader === status.header.member_id,
    };
  } catch (error) {
    return { endpoint, error };
  } finally {
    client.close();
  }
}

async function doctorPostgres(options: GlobalOptions, out: Output): Promise<number> {
  const pgOptions = postgresOptions(options);
  const adapter = adapterFor(pgOptions, checkOptions(pgOptions));
  try {
    const { rows } = await adapter
      .query('SHOW server_version', [], options.dialTimeout)
      .catch((err: unknown) => Promise.reject(translate(err, adapter.where, 'reading the server version')));
    const version = String(rows[0]?.['server_version'] ?? 'unknown');
    out.event(
      { event: 'doctor', backend: 'postgres', where: adapter.where, reachable: true, version },
      `backend postgres at ${adapter.where}: reached, PostgreSQL ${version}`,
    );
    return ExitCode.OK;
  } catch (err) {
    throw explainUnavailable(err, options);
  } finally {
    await adapter.close();
  }
}

async function doctorZookeeper(options: GlobalOptions, out: Output): Promise<number> {
  const zkOptions = zookeeperOptions(options);
  const backend = zookeeper(zkOptions);
  // A listener, so that nothing the backend warns about lands on stderr as a process warning.
  backend.on('warning', () => undefined);
  try {
    // Reading a key (absent or not) connects and checks a chroot. The server version would take
    // the `srvr` four-letter word, which servers often disable, so it is not asked.
    await backend.get('ballot-doctor');
    out.event(
      {
        event: 'doctor',
        backend: 'zookeeper',
        where: zkOptions.connect ?? null,
        reachable: true,
        version: null,
      },
      `backend zookeeper${zkOptions.connect ? ` at ${zkOptions.connect}` : ''}: reached`,
    );
    return ExitCode.OK;
  } catch (err) {
    throw explainUnavailable(err, options);
  } finally {
    await backend.close();
  }
}

function describe(error: unknown): string {
  return describeError(error).replace(/^ballot: /, '');
}
