/**
 * The CLI flows test/cli-postgres.test.ts and test/cli-zookeeper.test.ts check the same way on
 * their server: a test hands in how it starts `ballot` on that server and counts entries, plus the
 * checks only its backend makes; every assertion either file made stays in one of the two places.
 */
import assert from 'node:assert/strict';
import { NO_STACK, reap, runCli, type Proc } from './cli-process.js';
import { eventually } from './helpers.js';

/** What runCli returns. */
export type CliResult = Awaited<ReturnType<typeof runCli>>;

/** How a test file runs `ballot` on its server and reads what the server holds. */
export interface CliServer {
  /** Starts `ballot ...args` on the test's server. */
  start(args: readonly string[]): Proc;
  /** Runs `ballot ...args` on the test's server to completion. */
  exec(args: readonly string[]): Promise<CliResult>;
  /** Entries of `election` on the server right now. */
  entries(election: string): Promise<number>;
  /** Waits until `election` has `n` entries. */
  waitEntries(election: string, n: number): Promise<void>;
  /** Checks a --json line's timestamp and returns its other fields. */
  stamped(line: string | Record<string, unknown>): Record<string, unknown>;
}

/** Waits until `count(election)` is `n`. */
export async function untilEntries(
  count: (election: string) => Promise<number>,
  election: string,
  n: number,
  timeoutMs: number,
): Promise<void> {
  let last = -1;
  await eventually(
    async () => (last = await count(election)) === n,
    timeoutMs,
    `${n} entries in ${election} (last count ${last})`,
  );
}

/** A `list --json` line's election, as the flow reads it. */
export interface ListedElection {
  election: string;
  leader: { value: string; token: string; key: string; lease: string; ttl: number | null };
  queue: { value: string }[];
}

/** The backend's own checks within campaignFlow. */
export interface CampaignChecks {
  /** On the leader's `elected` line (token and key format). */
  elected(elected: Record<string, unknown>, election: string): void;
  /** The human `ballot leader` line while alpha leads. */
  leaderLine: RegExp;
  /** On the leader in `list --json` (its lease and ttl). */
  listed(leader: ListedElection['leader'], election: string): void;
  /** The leader's row in the `list` table. */
  tableLeader: RegExp;
  /** On the operator's `ballot resign --json`, beyond its output line. */
  resigned?(resigned: CliResult): void;
}

/**
 * Campaign, observe, leader, list and resign in `election` (named so that its first 9 characters
 * select it in `list`): a candidate's SIGINT resigns, the operator's resign deposes (exit 4).
 */
export async function campaignFlow(cli: CliServer, e: string, checks: CampaignChecks): Promise<void> {
  const { start, exec, stamped } = cli;
  let observer: Proc | undefined;
  let a: Proc | undefined;
  let b: Proc | undefined;
  try {
    observer = start(['observe', e, '--json']);
    stamped(await observer.json('stdout', { event: 'leader', kind: 'none', election: e, value: null }));

    a = start(['campaign', e, 'alpha', '--json', '--ttl', '5']);
    const elected = stamped(await a.json('stdout', { event: 'elected', election: e, value: 'alpha' }));
    checks.elected(elected, e);
    await observer.json('stdout', {
      event: 'leader',
      kind: 'leader',
      value: 'alpha',
      token: elected['token'],
    });

    b = start(['campaign', e, 'beta', '--json']);
    await cli.waitEntries(e, 2);
    const leader = await exec(['leader', e, '--json']);
    assert.equal(leader.code, 0, leader.stderr);
    assert.deepEqual(stamped(leader.stdout), {
      event: 'leader',
      kind: 'leader',
      election: e,
      value: 'alpha',
      key: elected['key'],
      token: elected['token'],
    });
    assert.match((await exec(['leader', e])).stdout, checks.leaderLine);

    const listed = await exec(['list', e.slice(0, 9), '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const election = stamped(listed.stdout) as unknown as ListedElection;
    assert.equal(election.election, e);
    assert.equal(election.leader.value, 'alpha');
    assert.equal(election.leader.token, elected['token']);
    checks.listed(election.leader, e);
    assert.deepEqual(
      election.queue.map((q) => q.value),
      ['beta'],
    );
    const table = await exec(['list']);
    assert.match(table.stdout, /^ELECTION\s+ROLE\s+VALUE\s+TOKEN\s+KEY\s+TTL$/m);
    assert.match(table.stdout, checks.tableLeader);
    assert.match(table.stdout, new RegExp(`${e}\\s+#1\\s+beta`));
    assert.match((await exec(['list', 'nothing-here'])).stdout, /no elections under "nothing-here"/);

    // SIGINT: the leader resigns and exits 0; the next candidate takes over with a larger token.
    a.kill('SIGINT');
    await a.json('stdout', { event: 'deposed', election: e, reason: 'resigned' });
    assert.equal(await a.exited, 0);
    const next = await b.json('stdout', { event: 'elected', value: 'beta' });
    assert.ok(BigInt(String(next['token'])) > BigInt(String(elected['token'])), 'tokens increase');
    await observer.json('stdout', { event: 'leader', value: 'beta', token: next['token'] });

    // Operator resign: the leader's entry goes, its process sees the term end and exits 4.
    const resigned = await exec(['resign', e, '--json']);
    assert.equal(resigned.code, 0, resigned.stderr);
    assert.deepEqual(stamped(resigned.stdout), {
      event: 'resigned',
      election: e,
      value: 'beta',
      key: next['key'],
      token: next['token'],
    });
    checks.resigned?.(resigned);
    await b.json('stdout', { event: 'deposed', election: e, reason: 'key-deleted' });
    assert.equal(await b.exited, 4);
    await observer.json('stdout', { event: 'leader', kind: 'none', value: null, token: null }, 10_000, 2);

    const none = await exec(['leader', e, '--json']);
    assert.equal(none.code, 3);
    assert.equal(stamped(none.stdout)['kind'], 'none');
    const nothing = await exec(['resign', e]);
    assert.equal(nothing.code, 3);
    assert.match(nothing.stderr, /no leader/);

    observer.kill('SIGINT');
    assert.equal(await observer.exited, 0);
    assert.equal(await cli.entries(e), 0, 'nothing left behind');
    for (const p of [observer, a, b])
      assert.equal(p.events('stdout').length, p.stdout.filter((l) => l !== '').length, 'every line is JSON');
  } finally {
    await reap(observer, a, b);
  }
}

/**
 * Two `ballot lock name` in turn: the second runs once the first's command (whose first line
 * `held ...` it returns, for the caller's own checks) has exited, with a larger token.
 */
export async function lockInTurn(cli: CliServer, name: string, firstScript: string): Promise<string> {
  const first = cli.start(['lock', name, '--', 'sh', '-c', firstScript]);
  try {
    const firstLine = await first.line('stdout', (l) => l.startsWith('held '), 10_000);
    const second = cli.exec(['lock', name, '--', 'sh', '-c', 'echo "held $BALLOT_LOCK $BALLOT_TOKEN"']);
    assert.equal(await first.exited, 0, first.output());
    const done = await second;
    assert.equal(done.code, 0, done.stderr);
    const secondToken = /^held \S+ (\d+)$/m.exec(done.stdout)?.[1];
    const firstToken = firstLine.split(' ')[2] ?? '';
    assert.ok(secondToken && BigInt(secondToken) > BigInt(firstToken), `${secondToken} > ${firstToken}`);
    assert.equal(await cli.entries(name), 0, 'nothing left behind');
    return firstLine;
  } finally {
    await reap(first);
  }
}

/** Each usage error exits 2 with its message and no stack trace. */
export async function refusedAsUsage(usage: [string[], RegExp][], env: NodeJS.ProcessEnv): Promise<void> {
  const results = await Promise.all(usage.map(([args]) => runCli(args, undefined, env)));
  results.forEach((r, i) => {
    const [args, message] = usage[i]!;
    assert.equal(r.code, 2, `ballot ${args.join(' ')} should exit 2:\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, NO_STACK);
  });
}

/** `ballot <command> --help` for each command at 80 columns: exit 0, no line longer. */
export async function helpsWithin80(commands: string[][]): Promise<CliResult[]> {
  const helps = await Promise.all(
    commands.map((c) => runCli([...c, '--help'], undefined, { COLUMNS: '80' })),
  );
  for (const help of helps) {
    assert.equal(help.code, 0, help.stderr);
    assert.deepEqual(
      help.stdout.split('\n').filter((l) => l.length > 80),
      [],
      'no line over 80 columns',
    );
  }
  return helps;
}

/**
 * `ballot demo --json` on the test's server: exits 0, every line stamped, a summary of the four
 * handovers whose checks all held, the crash a real SIGKILL. Returns its stdout.
 */
export async function demoRuns(cli: CliServer): Promise<string> {
  const demo = await cli.exec(['demo', '--json']);
  assert.equal(demo.code, 0, demo.stdout + demo.stderr);
  const lines = demo.stdout.trim().split('\n');
  for (const line of lines) cli.stamped(line);
  const summary = JSON.parse(lines.at(-1)!) as {
    event: string;
    ok: boolean;
    handovers: { fault: string }[];
    checks: { held: boolean }[];
  };
  assert.equal(summary.event, 'summary');
  assert.equal(summary.ok, true);
  assert.deepEqual(
    summary.handovers.map((h) => h.fault),
    ['resign', 'crash', 'pause', 'concede'],
  );
  assert.ok(summary.checks.every((c) => c.held));
  assert.match(demo.stdout, /"event":"deposed"[^\n]*"reason":"killed"/, 'the crash was a real SIGKILL');
  return demo.stdout;
}
