/**
 * The CLI's commands are backend-neutral: `campaign`, `observe`, `leader`, `list` and `resign` take a
 * Backend and streams (CommandContext), and the command line only picks etcd. The memory backend
 * lives in one process, so it cannot serve separate `ballot` processes; instead this file runs the
 * same command functions in process against every backend of the conformance list, with the same
 * assertions on their output and exit codes. test/cli.test.ts covers the processes, on etcd.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { campaign } from '../src/cli/commands/campaign.js';
import { leader } from '../src/cli/commands/leader.js';
import { list } from '../src/cli/commands/list.js';
import { observe } from '../src/cli/commands/observe.js';
import { resign } from '../src/cli/commands/resign.js';
import type { CommandContext } from '../src/cli/context.js';
import { describeError, exitCodeFor } from '../src/cli/errors.js';
import { Output } from '../src/cli/output.js';
import type { Backend } from '../src/index.js';
import { backends } from './conformance/backends.js';
import { eventually, within } from './helpers.js';

/** A stream that keeps what a command wrote, line by line. */
class Lines extends Writable {
  readonly lines: string[] = [];
  private partial = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    done();
  }

  get text(): string {
    return this.lines.join('\n');
  }

  /** JSON lines as objects without `ts` (checked to be an ISO 8601 UTC time). */
  events(): Record<string, unknown>[] {
    return this.lines.map((line) => {
      const { ts, ...fields } = JSON.parse(line) as Record<string, unknown>;
      assert.match(String(ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      return fields;
    });
  }

  /** Waits for a JSON line whose fields include `fields`, and returns it. */
  async event(fields: Record<string, unknown>, ms = 10_000): Promise<Record<string, unknown>> {
    const matches = (e: Record<string, unknown>) =>
      Object.entries(fields).every(([k, v]) => JSON.stringify(e[k]) === JSON.stringify(v));
    await eventually(() => this.events().some(matches), ms, `a line with ${JSON.stringify(fields)}`);
    return this.events().find(matches)!;
  }
}

/** One command run: its streams, and its exit code as `ballot` would exit with it. */
interface Run {
  stdout: Lines;
  stderr: Lines;
  code: Promise<number>;
}

function start(backend: Backend, json: boolean, command: (ctx: CommandContext) => Promise<number>): Run {
  const stdout = new Lines();
  const stderr = new Lines();
  const ctx = { backend, out: new Output(json, stdout), stderr };
  // As runCli does: an error is reported on stderr and decides the exit code.
  const code = command(ctx).catch((err: unknown) => {
    stderr.write(`${describeError(err)}\n`);
    return exitCodeFor(err);
  });
  return { stdout, stderr, code };
}

async function exec(backend: Backend, json: boolean, command: (ctx: CommandContext) => Promise<number>) {
  const run = start(backend, json, command);
  const code = await within(run.code, 10_000, 'the command to finish');
  return { code, stdout: run.stdout, stderr: run.stderr };
}

for (const [index, makeHarness] of backends.entries()) {
  const harness = makeHarness();
  describe(`CLI commands: ${harness.name}`, () => {
    let backend: Backend;
    let n = 0;
    const fresh = (what: string) => `cli-${what}-${index}-${process.pid}-${++n}`;
    const stops: AbortController[] = [];
    const stopper = () => {
      const controller = new AbortController();
      stops.push(controller);
      return controller;
    };

    before(async () => {
      await harness.setup();
      backend = harness.sharedBackend();
    });
    after(async () => {
      for (const s of stops) s.abort();
      await harness.teardown();
    });

    test('campaign, observe, leader, list and resign', async () => {
      const e = fresh('flow');
      const stopObserver = stopper();
      const observer = start(backend, true, (ctx) => observe(e, stopObserver.signal, ctx));
      await observer.stdout.event({ event: 'leader', kind: 'none', election: e, value: null, token: null });

      const stopA = stopper();
      const a = start(backend, true, (ctx) => campaign(e, 'alpha', { ttl: 5, signal: stopA.signal }, ctx));
      const elected = await a.stdout.event({ event: 'elected', election: e, value: 'alpha' });
      assert.match(String(elected['token']), /^\d+$/, 'tokens are decimal strings');
      // The key in each backend's own layout: the leader entry's, as participants() reads it.
      assert.equal(elected['key'], (await backend.participants(e))[0]?.key);
      await observer.stdout.event({ event: 'leader', value: 'alpha', token: elected['token'] });

      const stopB = stopper();
      const b = start(backend, true, (ctx) => campaign(e, 'beta', { ttl: 5, signal: stopB.signal }, ctx));
      await eventually(async () => (await backend.participants(e)).length === 2, 10_000, 'beta to queue');

      const json = await exec(backend, true, (ctx) => leader(e, ctx));
      assert.equal(json.code, 0, json.stderr.text);
      assert.deepEqual(json.stdout.events(), [
        {
          event: 'leader',
          kind: 'leader',
          election: e,
          value: 'alpha',
          key: elected['key'],
          token: elected['token'],
        },
      ]);
      const human = await exec(backend, false, (ctx) => leader(e, ctx));
      assert.deepEqual(human.stdout.lines, [
        `leader ${e}: alpha (token ${elected['token']}, key ${elected['key']})`,
      ]);

      const listed = await exec(backend, true, (ctx) => list(e.slice(0, -2), ctx));
      assert.equal(listed.code, 0, listed.stderr.text);
      const [election, ...others] = listed.stdout.events() as {
        event: string;
        election: string;
        leader: { value: string; key: string; token: string; lease: string; ttl: number };
        queue: { value: string; ttl: number }[];
      }[];
      assert.deepEqual(others, [], 'one election under the prefix');
      assert.deepEqual(
        [
          election?.event,
          election?.election,
          election?.leader.value,
          election?.leader.token,
          election?.leader.key,
        ],
        ['election', e, 'alpha', elected['token'], elected['key']],
      );
      assert.match(election!.leader.lease, /^[0-9a-f]+$/, 'lease ids in hex, as etcdctl prints them');
      // ZooKeeper cannot see another client's session time left: ttl null, printed "unknown".
      const seesTtl = harness.seesSessionTime !== false;
      if (seesTtl)
        assert.ok(election!.leader.ttl > 0 && election!.leader.ttl <= 5, `ttl ${election!.leader.ttl}`);
      else assert.equal(election!.leader.ttl, null);
      assert.deepEqual(
        election!.queue.map((q) => [q.value, seesTtl ? q.ttl > 0 : q.ttl === null]),
        [['beta', true]],
      );
      const ttlColumn = seesTtl ? '\\d+s' : 'unknown';
      const betaKey = (await backend.participants(e))[1]!.key;
      const table = await exec(backend, false, (ctx) => list(e, ctx));
      assert.equal(table.code, 0);
      assert.match(table.stdout.lines[0]!, /^ELECTION\s+ROLE\s+VALUE\s+TOKEN\s+KEY\s+TTL$/);
      assert.match(
        table.stdout.lines[1]!,
        new RegExp(`^${e}\\s+leader\\s+alpha\\s+${elected['token']}\\s+${elected['key']}\\s+${ttlColumn}$`),
      );
      assert.match(
        table.stdout.lines[2]!,
        new RegExp(`^${e}\\s+#1\\s+beta\\s+\\d+\\s+${betaKey}\\s+${ttlColumn}$`),
      );
      assert.equal(table.stdout.lines.length, 3);

      // Interrupting the leader: it resigns, reports it, exits 0; the next candidate takes over.
      stopA.abort('SIGINT');
      assert.equal(await within(a.code, 10_000, 'alpha to exit'), 0, a.stderr.text);
      assert.deepEqual(a.stdout.events().at(-1), { event: 'deposed', election: e, reason: 'resigned' });
      const next = await b.stdout.event({ event: 'elected', election: e, value: 'beta' });
      assert.ok(BigInt(String(next['token'])) > BigInt(String(elected['token'])), 'tokens increase');
      await observer.stdout.event({ event: 'leader', value: 'beta', token: next['token'] });

      // The operator's resign: the leader's entry goes, its command sees the term end and exits 4.
      const resigned = await exec(backend, true, (ctx) => resign(e, ctx));
      assert.equal(resigned.code, 0, resigned.stderr.text);
      assert.deepEqual(resigned.stdout.events(), [
        { event: 'resigned', election: e, value: 'beta', key: next['key'], token: next['token'] },
      ]);
      assert.equal(await within(b.code, 10_000, 'beta to exit'), 4);
      assert.deepEqual(b.stdout.events().at(-1), { event: 'deposed', election: e, reason: 'key-deleted' });
      assert.match(b.stderr.text, /deleted the leader key/);
      // The observer's first line was "none" too: wait for the one after the resign.
      await eventually(
        () => observer.stdout.events().filter((c) => c['kind'] === 'none').length === 2,
        10_000,
        'the observer to see "none" again',
      );

      const none = await exec(backend, true, (ctx) => leader(e, ctx));
      assert.equal(none.code, 3);
      assert.deepEqual(none.stdout.events(), [
        { event: 'leader', kind: 'none', election: e, value: null, key: null, token: null },
      ]);
      const nothing = await exec(backend, false, (ctx) => resign(e, ctx));
      assert.equal(nothing.code, 3);
      assert.equal(nothing.stderr.text, `ballot: election ${e} has no leader to resign`);

      stopObserver.abort('SIGINT');
      assert.equal(await within(observer.code, 10_000, 'the observer to exit'), 0);
      assert.deepEqual(
        observer.stdout.events().map((c) => [c['kind'], c['value']]),
        [
          ['none', null],
          ['leader', 'alpha'],
          ['leader', 'beta'],
          ['none', null],
        ],
      );
      assert.deepEqual(await backend.participants(e), [], 'nothing left behind');
    });

    // A key written by another tool under an election's prefix exists only where guards' keys and
    // entries share one key space (etcd, memory); PostgreSQL and ZooKeeper keep guards' keys apart
    // from entries, so the case cannot arise there and the test is not defined for them (nested
    // names are covered on every backend by the conformance suite).
    if (harness.entriesAreKeys)
      test('nested names are separate elections; a key without a lease stands in line', async () => {
        const team = fresh('team');
        const sub = `${team}/sub`;
        // Another tool's key under the election, written before anyone opens it here (ballot's
        // guards refuse writes into key spaces they know): the oldest key, so it leads.
        const writer = await harness.candidate(5);
        const held = await writer.election(`${team}-writer`).campaign('w');
        assert.equal((await held.guard((tx) => tx.put(`${team}/last-run`, 'ts'))).committed, true);
        await writer.close();

        const stopA = stopper();
        const a = start(backend, true, (ctx) => campaign(sub, 'a', { ttl: 5, signal: stopA.signal }, ctx));
        await a.stdout.event({ event: 'elected', election: sub, value: 'a' });
        const stopC = stopper();
        const c = start(backend, true, (ctx) => campaign(team, 'c', { ttl: 5, signal: stopC.signal }, ctx));
        await eventually(async () => (await backend.participants(team)).length === 2, 10_000, 'c to queue');

        const blocked = await exec(backend, true, (ctx) => leader(team, ctx));
        assert.equal(blocked.code, 0);
        assert.deepEqual(
          blocked.stdout.events().map((l) => [l['value'], l['key']]),
          [['ts', `${team}/last-run`]],
        );
        assert.match(blocked.stderr.text, /has no lease: no candidate can be elected until it is deleted/);

        const listed = await exec(backend, true, (ctx) => list(team, ctx));
        assert.equal(listed.code, 0, listed.stderr.text);
        const elections = listed.stdout.events() as {
          election: string;
          leader: { value: string; key: string; lease: string | null; ttl: number | null };
          queue: { value: string }[];
        }[];
        assert.deepEqual(
          elections.map((l) => [
            l.election,
            l.leader.value,
            l.leader.lease,
            l.leader.ttl,
            l.queue.map((q) => q.value),
          ]),
          [
            [team, 'ts', null, null, ['c']],
            [sub, 'a', elections[1]?.leader.lease, elections[1]?.leader.ttl, []],
          ],
        );
        const onlySub = await exec(backend, true, (ctx) => list(`${team}/`, ctx));
        assert.deepEqual(
          onlySub.stdout.events().map((l) => l['election']),
          [sub],
          'the prefix filters by election name',
        );
        const table = await exec(backend, false, (ctx) => list(team, ctx));
        assert.match(
          table.stdout.text,
          new RegExp(`${team}\\s+leader\\s+ts\\s+\\d+\\s+${team}/last-run\\s+no lease`),
        );
        assert.equal(c.stdout.lines.length, 0, 'c waits behind the foreign key');

        // The operator's lever removes it, and c is elected.
        const resigned = await exec(backend, false, (ctx) => resign(team, ctx));
        assert.equal(resigned.code, 0, resigned.stderr.text);
        assert.match(
          resigned.stdout.text,
          new RegExp(`^resigned ${team}: removed ts \\(token \\d+, key ${team}/last-run\\)$`),
        );
        await c.stdout.event({ event: 'elected', election: team, value: 'c' });
        const now = await exec(backend, true, (ctx) => leader(team, ctx));
        assert.equal(now.stdout.events()[0]?.['value'], 'c');
        assert.equal(now.stderr.text, '', 'no warning for a leased leader');

        stopA.abort('SIGINT');
        stopC.abort('SIGINT');
        assert.deepEqual(await Promise.all([a.code, c.code]), [0, 0]);
        assert.deepEqual(await backend.elections(team), []);
      });

    test('list with nothing under the prefix says so, and prints no JSON line', async () => {
      const prefix = fresh('empty');
      const human = await exec(backend, false, (ctx) => list(prefix, ctx));
      assert.equal(human.code, 0);
      assert.deepEqual(human.stdout.lines, [`no elections under "${prefix}"`]);
      const json = await exec(backend, true, (ctx) => list(prefix, ctx));
      assert.equal(json.code, 0);
      assert.deepEqual(json.stdout.lines, []);
    });
  });
}
