/**
 * End-to-end tests of the built `ballot` command (dist/cli/main.js) against a real etcd:
 * campaign/observe/leader/list/resign, run, interop with `etcdctl elect`, errors and exit codes,
 * and the demo on both backends.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { electionPrefix } from '../src/backends/etcd/keys.js';
import { startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { startFaultProxy } from './fixtures/fault-proxy.js';
import { eventually } from './helpers.js';
import {
  buildCli,
  isRunning,
  killAndTimeOrphans,
  NO_STACK,
  reap,
  runCli,
  startCli,
  startProcess,
  stampedSince,
  watchdogsOf,
  type Proc,
  ROOT,
} from './cli-process.js';

const ETCDCTL = process.env['ETCDCTL_BIN'] ?? '/usr/bin/etcdctl';

let node: EtcdNode;
let ep: string;
let scratch: string;

/** Entries of `election` in etcd right now. */
async function entries(election: string): Promise<number> {
  const res = await node.etcdctl(['get', electionPrefix(election), '--prefix', '--keys-only']);
  return res.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

/** Waits until `election` has `n` entries (candidates queued). */
async function waitEntries(election: string, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await entries(election);
    if (count === n) return;
    if (Date.now() > deadline) throw new Error(`${election} has ${count} entries, expected ${n}`);
    await sleep(50);
  }
}

const running = isRunning;

/** The demo's output lists each term's end before the next election, and every term ends. */
function assertTermOrder(events: { kind: string; token: bigint }[]): void {
  const open = new Set<bigint>();
  for (const ev of events) {
    if (ev.kind === 'ended') open.delete(ev.token);
    else {
      assert.deepEqual(
        [...open],
        [],
        `term(s) ${[...open].join(', ')} not ended before term ${ev.token} elected`,
      );
      open.add(ev.token);
    }
  }
  assert.ok(events.filter((e) => e.kind === 'elected').length >= 5, 'five terms in the demo');
  assert.deepEqual([...open], [], 'every term ended');
}

const STARTED = Date.now();
const stamped = stampedSince(STARTED);

describe('ballot command', () => {
  before(async () => {
    [node] = await Promise.all([startEtcd({ name: 'cli' }), buildCli()]);
    ep = node.endpoint;
    scratch = await mkdtemp(join(tmpdir(), 'ballot-cli-'));
  });

  after(async () => {
    await node?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  test('user errors: documented exit codes, clear messages, no stack traces', async () => {
    const usage: [string[], RegExp][] = [
      [['campaign', 'e', 'v', '--bogus'], /unknown option '--bogus'/],
      [['campaign', 'e'], /missing required argument 'value'/],
      [['run', 'e'], /missing command after --/],
      [['run', 'e', '--grace', '1s', '--'], /missing command after --/],
      [['campaign', 'e', 'v', '--ttl', '0'], /--ttl must be a whole number of seconds/],
      [['campaign', 'e', 'v', '--ttl', '1.5'], /--ttl must be a whole number of seconds/],
      [['campaign', 'e', 'v', '--ttl', '100000'], /ttl must be a whole number of seconds from 1 to 86400/],
      [['leader', 'e/'], /must not end with "\/"/],
      [['lock', '', '--', 'true'], /lock name must be a non-empty string/],
      [['lock', ' ', '--', 'true'], /lock name must not be blank/],
      [['campaign', '  ', 'v'], /election name must not be blank/],
      [['leader', 'a\tb'], /election name "a\\tb" contains a control character/],
      [['leader', 'e', '--dial-timeout', 'soon'], /--dial-timeout must be a duration/],
      [['leader', 'e', '--endpoints', 'nohost'], /invalid endpoint "nohost"/],
      [
        ['leader', 'e', '--endpoints', '127.0.0.1:99999'],
        /invalid endpoint "127\.0\.0\.1:99999": the port must be from 1 to 65535/,
      ],
      [['leader', 'e', '--endpoints', 'https://127.0.0.1:0'], /the port must be from 1 to 65535/],
      // The suggestion must be a TTL that is accepted, not a duration such as 500ms.
      [
        ['campaign', 'e', 'v', '--ttl=-1'],
        /--ttl must be a whole number of seconds, at least 1, e\.g\. 10 or 10s, got "-1"/,
      ],
      [['campaign', 'e', 'v', '--ttl', 'soon'], /e\.g\. 10 or 10s/],
      [['observe', 'e', '--backend', 'memory'], /needs --backend etcd/],
      [['list', '--cacert', '/nonexistent/ca.pem'], /--cacert \/nonexistent\/ca.pem: ENOENT/],
    ];
    const results = await Promise.all(usage.map(([args]) => runCli(args, ep)));
    results.forEach((r, i) => {
      const [args, message] = usage[i]!;
      assert.equal(r.code, 2, `ballot ${args.join(' ')} should exit 2:\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, NO_STACK);
    });

    // Unreachable endpoints fail within the dial timeout and name what was tried.
    const down = await runCli(['leader', 'e', '--dial-timeout', '500ms'], '127.0.0.1:1');
    assert.equal(down.code, 5, down.stderr);
    assert.match(down.stderr, /cannot reach etcd within 500 ms at 127\.0\.0\.1:1/);
    assert.doesNotMatch(down.stderr, NO_STACK);
    assert.ok(down.ms < 3000, `took ${down.ms} ms`);
    // The endpoint comes from BALLOT_ENDPOINTS, else ETCDCTL_ENDPOINTS.
    const viaEtcdctlEnv = await runCli(['list', '--dial-timeout', '300ms'], undefined, {
      ETCDCTL_ENDPOINTS: '127.0.0.1:2',
    });
    assert.equal(viaEtcdctlEnv.code, 5);
    assert.match(viaEtcdctlEnv.stderr, /127\.0\.0\.1:2/);

    const version = await runCli(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), pkg.version);
    const help = await runCli(['run', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--grace <duration>/);
    assert.match(help.stdout, /--endpoints <list>/, 'global flags are listed in every command help');
    for (const ttl of ['10', '10s']) {
      const accepted = await runCli(['leader', 'e', '--ttl', ttl, '--backend', 'memory']);
      assert.doesNotMatch(accepted.stderr, /--ttl/, `the suggested --ttl ${ttl} is accepted`);
    }
  });

  test('help reads well at 80 columns: no line is wider, for the program and every command', async () => {
    const commands = [
      '',
      'campaign',
      'observe',
      'leader',
      'run',
      'lock',
      'list',
      'resign',
      'transfer',
      'demo',
    ];
    const helps = await Promise.all(
      commands.map((c) => runCli([...(c ? [c] : []), '--help'], undefined, { COLUMNS: '80' })),
    );
    helps.forEach((help, i) => {
      assert.equal(help.code, 0, help.stderr);
      const wide = help.stdout.split('\n').filter((l) => l.length > 80);
      assert.deepEqual(wide, [], `ballot ${commands[i]} --help has lines over 80 columns`);
      // The description paragraph (after "Usage:") is wrapped, not hard-broken: every line but its
      // last is filled, none is a stray word such as "process".
      const paragraph = help.stdout.split('\n\n')[1]!.split('\n');
      const short = paragraph.slice(0, -1).filter((l) => l.length < 60);
      assert.deepEqual(short, [], `ballot ${commands[i]} --help: ragged description`);
    });
    assert.match(helps[0]!.stdout, /about 12 s/);
  });

  test('campaign, observe, leader, list and resign', async () => {
    const e = 'cli-flow';
    let observer: Proc | undefined;
    let a: Proc | undefined;
    let b: Proc | undefined;
    try {
      observer = startCli(['observe', e, '--json'], ep);
      await observer.json('stdout', {
        event: 'leader',
        kind: 'none',
        election: e,
        value: null,
        key: null,
        token: null,
      });

      a = startCli(['campaign', e, 'alpha', '--json', '--ttl', '5'], ep);
      const elected = await a.json('stdout', { event: 'elected', election: e, value: 'alpha' });
      assert.match(String(elected['token']), /^\d+$/, 'tokens are decimal strings');
      assert.match(String(elected['key']), new RegExp(`^${e}/[0-9a-f]+$`));
      await observer.json('stdout', { event: 'leader', value: 'alpha', token: elected['token'] });

      b = startCli(['campaign', e, 'beta', '--json'], ep);
      await waitEntries(e, 2);
      const leader = await runCli(['leader', e, '--json'], ep);
      assert.equal(leader.code, 0);
      assert.deepEqual(stamped(leader.stdout), {
        event: 'leader',
        kind: 'leader',
        election: e,
        value: 'alpha',
        key: elected['key'],
        token: elected['token'],
      });
      const human = await runCli(['leader', e], ep);
      assert.match(human.stdout, /alpha.*token \d+/);

      const listed = await runCli(['list', 'cli-fl', '--json'], ep);
      assert.equal(listed.code, 0, listed.stderr);
      const election = stamped(listed.stdout) as {
        election: string;
        leader: { value: string; token: string; ttl: number };
        queue: { value: string; ttl: number }[];
      };
      assert.equal(election.election, e);
      assert.equal(election.leader.value, 'alpha');
      assert.equal(election.leader.token, elected['token']);
      assert.ok(election.leader.ttl > 0 && election.leader.ttl <= 5, `ttl ${election.leader.ttl}`);
      assert.deepEqual(
        election.queue.map((q) => q.value),
        ['beta'],
      );
      const table = await runCli(['list'], ep);
      assert.match(table.stdout, new RegExp(`${e}\\s+leader\\s+alpha`));
      assert.match(table.stdout, new RegExp(`${e}\\s+#1\\s+beta`));

      // SIGINT while queued: the candidate leaves the line, removing its entry, and exits 0.
      const gamma = startCli(['campaign', e, 'gamma', '--json'], ep);
      await waitEntries(e, 3);
      gamma.kill('SIGINT');
      assert.equal(await gamma.exited, 0);
      assert.equal(gamma.stdout.length, 0, 'a candidate that never led reports nothing');
      assert.equal(await entries(e), 2);

      // SIGINT: the leader resigns, reports it, exits 0; the next candidate takes over.
      a.kill('SIGINT');
      await a.json('stdout', { event: 'deposed', election: e, reason: 'resigned' });
      assert.equal(await a.exited, 0);
      const next = await b.json('stdout', { event: 'elected', value: 'beta' });
      assert.ok(BigInt(String(next['token'])) > BigInt(String(elected['token'])), 'tokens increase');
      await observer.json('stdout', { event: 'leader', value: 'beta', token: next['token'] });

      // Operator resign: the leader's key goes, its process sees the term end and exits 4.
      const resigned = await runCli(['resign', e, '--json'], ep);
      assert.equal(resigned.code, 0, resigned.stderr);
      assert.deepEqual(stamped(resigned.stdout), {
        event: 'resigned',
        election: e,
        value: 'beta',
        key: next['key'],
        token: next['token'],
      });
      await b.json('stdout', { event: 'deposed', election: e, reason: 'key-deleted' });
      assert.equal(await b.exited, 4);
      assert.match(b.stderr.join('\n'), /deleted the leader key/);
      await observer.json('stdout', { event: 'leader', value: null, token: null });

      const none = await runCli(['leader', e, '--json'], ep);
      assert.equal(none.code, 3);
      assert.deepEqual(stamped(none.stdout), {
        event: 'leader',
        kind: 'none',
        election: e,
        value: null,
        key: null,
        token: null,
      });
      const nothing = await runCli(['resign', e], ep);
      assert.equal(nothing.code, 3);
      assert.match(nothing.stderr, /no leader/);

      observer.kill('SIGINT');
      assert.equal(await observer.exited, 0);
      assert.equal(await entries(e), 0, 'nothing left behind');
      // Every --json line carries its time.
      for (const [p, stream] of [
        [observer, 'stdout'],
        [a, 'stdout'],
        [b, 'stdout'],
        [gamma, 'stdout'],
      ] as const) {
        assert.equal(p.events(stream).length, p[stream].filter((l) => l !== '').length, 'every line is JSON');
        p.events(stream).forEach((event) => stamped(event));
      }
    } finally {
      await reap(observer, a, b);
    }
  });

  test('observe says "unknown" while etcd is unreachable, then the leader again', async () => {
    const e = 'cli-outage';
    const proxy = await startFaultProxy(ep);
    let json: Proc | undefined;
    let human: Proc | undefined;
    const leader = startCli(['campaign', e, 'alpha', '--json', '--ttl', '30'], ep);
    try {
      await leader.json('stdout', { event: 'elected', value: 'alpha' });
      json = startCli(['observe', e, '--json'], proxy.endpoint);
      human = startCli(['observe', e], proxy.endpoint);
      await json.json('stdout', { event: 'leader', kind: 'leader', value: 'alpha' });
      await human.line('stdout', (l) => l.startsWith(`leader ${e}: alpha`));
      proxy.blackhole();
      // The CLI's call timeout is 5 s: after that long without an answer it cannot vouch for alpha.
      const unknown = await json.json('stdout', { event: 'leader', kind: 'unknown', value: null }, 15_000);
      assert.equal(unknown['key'], null);
      assert.ok(Number(unknown['silent_ms']) >= 4000, `silent for ${String(unknown['silent_ms'])} ms`);
      await human.line(
        'stdout',
        (l) => new RegExp(`^leader ${e}: unknown \\(no contact with the backend for \\d+ s\\)$`).test(l),
        15_000,
      );
      const since = json.stdout.length;
      proxy.heal();
      await json.json('stdout', { event: 'leader', kind: 'leader', value: 'alpha' }, 20_000, since);
      json.kill('SIGINT');
      human.kill('SIGINT');
      assert.equal(await json.exited, 0);
      assert.equal(await human.exited, 0);
    } finally {
      leader.kill('SIGINT');
      await reap(json, human, leader);
      await proxy.close();
    }
  });

  test('nested names are separate elections; leader and list agree, foreign keys included', async () => {
    const team = 'cli-team';
    const sub = `${team}/sub`;
    let a: Proc | undefined;
    let b: Proc | undefined;
    let c: Proc | undefined;
    let goListener: Proc | undefined;
    const listing = async (prefix: string) => {
      const r = await runCli(['list', prefix, '--json'], ep);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              election: string;
              leader: { value: string; key: string; lease: string | null; ttl: number | null };
              queue: { value: string }[];
            },
        );
    };
    const leaderOf = async (election: string) => {
      const r = await runCli(['leader', election, '--json'], ep);
      return { ...(JSON.parse(r.stdout) as { value: string | null; key: string | null }), stderr: r.stderr };
    };
    try {
      // The nested election's candidate comes first: it must not stand in line for the outer one.
      a = startCli(['campaign', sub, 'a', '--json', '--ttl', '5'], ep);
      const aElected = await a.json('stdout', { event: 'elected', election: sub, value: 'a' });
      b = startCli(['campaign', team, 'b', '--json', '--ttl', '5'], ep);
      const bElected = await b.json('stdout', { event: 'elected', election: team, value: 'b' });
      assert.equal((await leaderOf(team)).value, 'b');
      assert.equal((await leaderOf(sub)).value, 'a');
      assert.deepEqual(
        (await listing(team)).map((e) => [e.election, e.leader.value, e.queue.length]),
        [
          [team, 'b', 0],
          [sub, 'a', 0],
        ],
      );
      assert.deepEqual(
        (await listing(sub)).map((e) => e.election),
        [sub],
        'the prefix filters by election name',
      );
      // etcdctl shares the outer election (no '/' in its name) and sees b, not a.
      goListener = startProcess(ETCDCTL, [`--endpoints=${ep}`, 'elect', '-l', team], { ETCDCTL_API: '3' });
      await goListener.line('stdout', (l) => l === String(bElected['key']));
      await goListener.line('stdout', (l) => l === 'b');
      assert.ok(!goListener.stdout.includes(String(aElected['key'])));

      // A key without a lease under the prefix (not written by ballot: guards refuse it) stands in
      // line like an entry, for leader and list alike, and blocks the election until deleted.
      await node.etcdctl(['put', `${team}/last-run`, 'ts']);
      b.kill('SIGINT');
      assert.equal(await b.exited, 0);
      c = startCli(['campaign', team, 'c', '--json', '--ttl', '5'], ep);
      await waitEntries(team, 2);
      const blocked = await leaderOf(team);
      assert.deepEqual([blocked.value, blocked.key], ['ts', `${team}/last-run`]);
      assert.match(blocked.stderr, /has no lease: no candidate can be elected until it is deleted/);
      const [listed] = await listing(team);
      assert.equal(listed?.election, team);
      assert.deepEqual(
        [listed?.leader.value, listed?.leader.key, listed?.leader.lease, listed?.leader.ttl],
        ['ts', `${team}/last-run`, null, null],
      );
      assert.deepEqual(
        listed?.queue.map((q) => q.value),
        ['c'],
      );
      const table = await runCli(['list', team], ep);
      assert.match(
        table.stdout,
        new RegExp(`${team}\\s+leader\\s+ts\\s+\\d+\\s+${team}/last-run\\s+no lease`),
      );
      assert.equal(c.stdout.length, 0, 'c waits behind the foreign key');
      // The operator's lever removes it, and c is elected.
      assert.equal((await runCli(['resign', team], ep)).code, 0);
      await c.json('stdout', { event: 'elected', election: team, value: 'c' });
      assert.equal((await leaderOf(team)).value, 'c');
    } finally {
      goListener?.kill('SIGINT');
      for (const p of [a, b, c]) p?.kill('SIGINT');
      await reap(goListener, a, b, c);
    }
  });

  test('run: starts only when elected, gets its token, is stopped with its group when the term ends', async () => {
    const e = 'cli-run';
    const script = join(scratch, 'leader-job.sh');
    await writeFile(
      script,
      [
        'echo "started $BALLOT_ELECTION $BALLOT_TOKEN $BALLOT_LEADER_KEY"',
        'sleep 60 &',
        'echo "grandchild $!"',
        'trap \'echo "stopping $BALLOT_TOKEN"; exit 0\' TERM',
        'wait',
      ].join('\n'),
    );
    let first: Proc | undefined;
    let second: Proc | undefined;
    try {
      first = startCli(['run', e, '--value', 'first', '--json', '--grace', '3s', '--', 'sh', script], ep);
      const elected = await first.json('stderr', { event: 'elected', election: e, value: 'first' });
      await first.line(
        'stdout',
        (l) => l === `started ${e} ${String(elected['token'])} ${String(elected['key'])}`,
      );
      const grandchild = Number(
        (await first.line('stdout', (l) => l.startsWith('grandchild '))).split(' ')[1],
      );
      assert.ok(running(grandchild));

      second = startCli(['run', e, '--value', 'second', '--json', '--', 'sh', script], ep);
      await waitEntries(e, 2);
      await sleep(300);
      assert.equal(second.stdout.length, 0, 'a queued candidate does not run the command');
      first.events('stderr').forEach((event) => stamped(event));
      assert.equal(second.events('stderr').length, 0);

      assert.equal((await runCli(['resign', e], ep)).code, 0);
      await first.json('stderr', { event: 'deposed', reason: 'key-deleted' });
      await first.line('stdout', (l) => l === `stopping ${String(elected['token'])}`);
      await first.json('stderr', { event: 'exited', code: 0 });
      assert.equal(await first.exited, 4, 'a term that ends first exits DEPOSED');
      assert.ok(!running(grandchild), 'the whole process group was stopped');

      const next = await second.json('stderr', { event: 'elected', value: 'second' });
      assert.ok(BigInt(String(next['token'])) > BigInt(String(elected['token'])));
      await second.line('stdout', (l) => l.startsWith(`started ${e} ${String(next['token'])} `));
      // SIGTERM to ballot stops the command the same way, resigns, and passes the command's code on.
      second.kill('SIGTERM');
      await second.line('stdout', (l) => l === `stopping ${String(next['token'])}`);
      await second.json('stderr', { event: 'deposed', reason: 'resigned' });
      assert.equal(await second.exited, 0);
      assert.equal(await entries(e), 0);
    } finally {
      await reap(first, second);
    }
  });

  test('a queued candidate whose session is lost exits 5 (unavailable), saying it was still waiting', async () => {
    const e = 'cli-queued-loss';
    const proxy = await startFaultProxy(ep);
    let leader: Proc | undefined;
    let waiting: Proc | undefined;
    try {
      leader = startCli(['campaign', e, 'leader', '--json'], ep);
      await leader.json('stdout', { event: 'elected', value: 'leader' });
      waiting = startCli(['campaign', e, 'waiting', '--json', '--ttl', '2'], proxy.endpoint);
      await waitEntries(e, 2);
      proxy.blackhole();
      const code = await waiting.exited;
      assert.equal(code, 5, waiting.output());
      assert.match(
        waiting.stderr.join('\n'),
        /lost the session while still waiting in line for cli-queued-loss \(never elected\)/,
      );
      assert.doesNotMatch(waiting.output(), /deposed/, 'a candidate that never led is not deposed');
    } finally {
      proxy.heal();
      await reap(leader, waiting);
      await proxy.close();
    }
  });

  test('run: exit codes propagate, --requeue campaigns again, SIGKILL after --grace', async () => {
    let requeue: Proc | undefined;
    let stubborn: Proc | undefined;
    try {
      requeue = startCli(
        ['run', 'cli-requeue', '--requeue', '--json', '--', 'sh', '-c', 'echo "run $BALLOT_TOKEN"'],
        ep,
      );
      stubborn = startCli(
        [
          'run',
          'cli-grace',
          '--grace',
          '500ms',
          '--json',
          '--',
          'sh',
          '-c',
          'trap "" TERM; echo ready; while :; do sleep 1; done',
        ],
        ep,
      );
      const [seven, killed, missing] = await Promise.all([
        runCli(['run', 'cli-exit', '--', 'sh', '-c', 'exit 7'], ep),
        runCli(['run', 'cli-exit-signal', '--', 'sh', '-c', 'kill -KILL $$'], ep),
        runCli(['run', 'cli-missing', '--', '/nonexistent/ballot-test-command'], ep),
      ]);
      assert.equal(seven.code, 7);
      assert.equal(killed.code, 137, 'killed by signal 9: 128+9');
      assert.equal(missing.code, 127);
      assert.match(missing.stderr, /cannot run \/nonexistent\/ballot-test-command: command not found/);
      assert.doesNotMatch(missing.stderr, NO_STACK);

      // --requeue: the command ran, ballot resigned, campaigned again and ran it with a new token.
      await requeue.line('stdout', (l) => l.startsWith('run '), 10_000, 1);
      const tokens = requeue.stdout.filter((l) => l.startsWith('run ')).map((l) => BigInt(l.split(' ')[1]!));
      assert.ok(tokens[1]! > tokens[0]!, `tokens ${tokens.join(', ')}`);
      requeue.kill('SIGINT');
      // --requeue runs the command again and again: SIGINT either finds ballot campaigning (it
      // resigns and exits 0) or finds an echo running, which it stops with SIGTERM (exit 143).
      const stopped = await requeue.exited;
      assert.ok(stopped === 0 || stopped === 128 + 15, `exit ${stopped} after SIGINT`);

      // A command that ignores SIGTERM is SIGKILLed after the grace period.
      await stubborn.line('stdout', (l) => l === 'ready');
      const t0 = performance.now();
      stubborn.kill('SIGINT');
      const code = await stubborn.exited;
      const took = performance.now() - t0;
      assert.equal(code, 137);
      assert.ok(took >= 450 && took < 3000, `stopped after ${took} ms with a 500 ms grace`);
      assert.ok(
        stubborn.events('stderr').some((ev) => ev['event'] === 'exited' && ev['signal'] === 'SIGKILL'),
      );
    } finally {
      await reap(requeue, stubborn);
    }
  });

  test('run: a SIGKILLed ballot takes its command group with it; the watchdog goes too', async () => {
    const e = 'cli-run-orphan';
    const script = 'sleep 60 & echo "pids $$ $!"; wait';
    const first = startCli(['run', e, '--json', '--', 'sh', '-c', script], ep);
    try {
      const { ms, left } = await killAndTimeOrphans(first, 1000);
      assert.deepEqual(left, [], `still running ${ms.toFixed(0)} ms after ballot was SIGKILLed`);
    } finally {
      await reap(first);
    }
    // On a normal exit the watchdog is released and exits without killing anything.
    const normal = startCli(['run', 'cli-run-normal', '--', 'sh', '-c', 'exit 3'], ep);
    try {
      assert.equal(await normal.exited, 3);
      await eventually(() => watchdogsOf(normal.pid).length === 0, 1000, 'the watchdog to exit with ballot');
    } finally {
      await reap(normal);
    }
  });

  test('interop with etcdctl elect, both directions', async () => {
    const e = 'cli-interop';
    const etcdctl = (args: string[]) =>
      startProcess(ETCDCTL, [`--endpoints=${ep}`, ...args], { ETCDCTL_API: '3' });
    let goLeader: Proc | undefined;
    let goListener: Proc | undefined;
    let ours: Proc | undefined;
    let goNext: Proc | undefined;
    try {
      // etcdctl leads; ballot sees it, queues behind it, and takes over when it resigns.
      goLeader = etcdctl(['elect', e, 'from-etcdctl']);
      await goLeader.line('stdout', (l) => l === 'from-etcdctl');
      const seen = await runCli(['leader', e, '--json'], ep);
      assert.equal((JSON.parse(seen.stdout) as { value: string }).value, 'from-etcdctl');
      ours = startCli(['campaign', e, 'from-ballot', '--json'], ep);
      await waitEntries(e, 2);
      goListener = etcdctl(['elect', '-l', e]);
      await goListener.line('stdout', (l) => l === 'from-etcdctl');
      goLeader.kill('SIGINT');
      const elected = await ours.json('stdout', { event: 'elected', value: 'from-ballot' });
      // etcdctl's observer sees ballot's key and value.
      await goListener.line('stdout', (l) => l === String(elected['key']));
      await goListener.line('stdout', (l) => l === 'from-ballot');

      // ballot leads; etcdctl queues behind it and is elected when ballot resigns.
      goNext = etcdctl(['elect', e, 'etcdctl-next']);
      await waitEntries(e, 2);
      ours.kill('SIGINT');
      assert.equal(await ours.exited, 0);
      await goNext.line('stdout', (l) => l === 'etcdctl-next');
      await goListener.line('stdout', (l) => l === 'etcdctl-next');
    } finally {
      for (const p of [goLeader, goNext, goListener]) p?.kill('SIGINT');
      await sleep(200);
      await reap(goLeader, goListener, ours, goNext);
    }
  });

  test('demo exits 0 on the memory backend (plain lines) and on etcd (a process per candidate)', async () => {
    const [mem, real] = await Promise.all([
      runCli(['demo']),
      runCli(['demo', '--backend', 'etcd', '--json'], ep),
    ]);
    assert.equal(mem.code, 0, mem.stdout + mem.stderr);
    assert.ok(!mem.stdout.includes('\u001b['), 'no ANSI codes when stdout is not a terminal');
    for (const fault of ['resign', 'crash', 'pause', 'concede'])
      assert.match(mem.stdout, new RegExp(`^\\d+\\s+${fault}\\s`, 'm'));
    assert.match(mem.stdout, /guarded write was refused before sending \(NOT_LEADER\)/);
    assert.match(mem.stdout, /^PASS: every invariant held/m);
    assertTermOrder(
      mem.stdout.split('\n').flatMap((l) => {
        const m = /^\+[\d.]+s\s+(c\d) (?:elected, token (\d+)|term (\d+) ended)/.exec(l);
        if (!m) return [];
        return m[2] ? [{ kind: 'elected', token: BigInt(m[2]) }] : [{ kind: 'ended', token: BigInt(m[3]!) }];
      }),
    );

    assert.equal(real.code, 0, real.stdout + real.stderr);
    const summary = JSON.parse(real.stdout.trim().split('\n').at(-1)!) as {
      event: string;
      ok: boolean;
      handovers: { fault: string; latencyMs: number }[];
      checks: { held: boolean }[];
    };
    assert.equal(summary.event, 'summary');
    for (const line of real.stdout.trim().split('\n')) stamped(line);
    assert.equal(summary.ok, true);
    assert.deepEqual(
      summary.handovers.map((h) => h.fault),
      ['resign', 'crash', 'pause', 'concede'],
    );
    assert.ok(summary.checks.every((c) => c.held));
    assert.match(real.stdout, /"event":"deposed"[^\n]*"reason":"killed"/, 'the crash was a real SIGKILL');
    // On etcd the paused candidate reports its end only once it runs again, after the next election.
    assertTermOrder(
      real.stdout.split('\n').flatMap((l) => {
        const ev = JSON.parse(l) as { event: string; token?: string };
        if (ev.event !== 'elected' && ev.event !== 'deposed') return [];
        return [{ kind: ev.event === 'elected' ? 'elected' : 'ended', token: BigInt(ev.token ?? '0') }];
      }),
    );
  });
});
