import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { postgres, type Backend, type PgTxn } from '../src/index.js';
import { startPostgres, type PostgresServer } from './fixtures/postgres.js';
import {
  assertAlive,
  assertNoOverlap,
  closesByItself,
  pauseLeaderPastTtl,
  settledSpans,
  spans,
} from './fault-checks.js';
import { spawnWorker, type JsonObject, type Worker } from './fixtures/processes.js';
import { eventually, sleep, within } from './helpers.js';

const CANDIDATE = fileURLToPath(new URL('./workers/pg-candidate.ts', import.meta.url));
const TTL = 2;
const TTL_MS = TTL * 1000;
/** Generous bounds on waits, never targets: a takeover must come within a few TTLs. */
const ELECTED_WITHIN = 15_000;
const TAKEOVER_WITHIN = TTL_MS * 3 + 3_000;

describe('postgres faults across processes (real server, real signals)', () => {
  let server: PostgresServer;
  const workers: Worker[] = [];
  let run = 0;

  /** A candidate process with an application_name of its own; LOOP: campaign again after each term. */
  const spawn = (election: string, value: string, loop = false): Worker => {
    const worker = spawnWorker(CANDIDATE, [], {
      URL: server.url('app'),
      ELECTION: election,
      VALUE: value,
      TTL: String(TTL),
      APP: appName(election, value),
      LOOP: loop ? '1' : '0',
    });
    workers.push(worker);
    return worker;
  };
  const appName = (election: string, value: string) => `${election}-${value}`;
  const newElection = (what: string) => `${what}-${++run}`;
  /** A new election with candidate a leading and candidate b queued behind it. */
  const leaderAndWaiter = async (what: string, loop = false) => {
    const election = newElection(what);
    const a = spawn(election, 'a', loop);
    const aElected = await elected(a);
    const b = spawn(election, 'b', loop);
    await queued(election, 2);
    return { election, a, aElected, b };
  };
  const elected = (w: Worker, since = 0) =>
    w
      .waitFor((m) => m['event'] === 'elected', ELECTED_WITHIN, { since })
      .catch((err: Error) => {
        throw new Error(`${err.message}\nits messages: ${JSON.stringify(w.messages)}`);
      });
  const entryCount = async (election: string) =>
    (await server.query('SELECT count(*)::int AS n FROM ballot.entries WHERE election = $1', [election]))
      .rows[0]!['n'] as number;
  const queued = (election: string, n: number) =>
    eventually(async () => (await entryCount(election)) === n, 10_000, `${n} entries in ${election}`);
  const writes = async (election: string) =>
    (await server.query('SELECT value FROM public.fault_writes WHERE election = $1', [election])).rows.map(
      (r) => String(r['value']),
    );
  /** The leader as the database sees it: the oldest entry with a live session. */
  const dbLeader = async (election: string) =>
    (
      await server.query(
        `SELECT e.value, e.seq::text AS seq FROM ballot.entries e JOIN ballot.sessions x ON x.id = e.session_id
         WHERE e.election = $1 AND x.expires_at > clock_timestamp() ORDER BY e.seq LIMIT 1`,
        [election],
      )
    ).rows[0] as { value: string; seq: string } | undefined;
  before(async () => {
    server = await startPostgres();
    // Create ballot's tables now, so the audit triggers below can be attached to them.
    const b = postgres({ connectionString: server.url('app'), env: {} });
    await (await b.session({ ttl: TTL })).close();
    await b.close();
    await server.query(`
      CREATE TABLE public.fault_writes (election text, token bigint, value text);
      CREATE TABLE public.fault_audit (what text, id bigint, expires_at timestamptz, seq bigint, at timestamptz);
      GRANT ALL ON public.fault_writes, public.fault_audit TO PUBLIC;
      CREATE FUNCTION public.audit_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO public.fault_audit VALUES ('session', OLD.id, OLD.expires_at, NULL, clock_timestamp());
        RETURN NULL;
      END $$;
      CREATE FUNCTION public.audit_entry() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO public.fault_audit VALUES ('entry', OLD.session_id, NULL, OLD.seq, clock_timestamp());
        RETURN NULL;
      END $$;
      CREATE TRIGGER zz_audit AFTER DELETE ON ballot.sessions FOR EACH ROW EXECUTE FUNCTION public.audit_session();
      CREATE TRIGGER zz_audit AFTER DELETE ON ballot.entries FOR EACH ROW EXECUTE FUNCTION public.audit_entry();
    `);
  });
  after(async () => {
    for (const w of workers) {
      w.kill('SIGCONT');
      w.kill('SIGKILL');
    }
    await server?.stop();
  });

  test('a leader killed with SIGKILL: the waiter takes over once its session has expired on the database clock', async (t) => {
    const { a, aElected, b } = await leaderAndWaiter('kill');
    const killedAt = Number(process.hrtime.bigint()) / 1e6;
    a.kill('SIGKILL');
    await a.exited;
    const bElected = await within(elected(b), TAKEOVER_WITHIN, 'b to take over');
    assert.ok(BigInt(bElected['token'] as string) > BigInt(aElected['token'] as string), 'tokens increase');
    // a's entry went only with its session, and only once that session had expired by the database's clock.
    const gone = await server.query<{ what: string; late: boolean }>(
      `SELECT d.what, d.at >= s.expires_at AS late FROM public.fault_audit d
       JOIN public.fault_audit s ON s.what = 'session' AND s.id = d.id
       WHERE d.id = $1::bigint ORDER BY d.what`,
      [aElected['session']],
    );
    assert.deepEqual(
      gone.rows.map((r) => [r.what, r.late]),
      [
        ['entry', true],
        ['session', true],
      ],
      "a's entry and session were deleted after its expiry, not before",
    );
    t.diagnostic(
      `SIGKILL → b elected ${((bElected['at'] as number) - killedAt).toFixed(0)} ms later (TTL ${TTL} s)`,
    );
    await closesByItself(b);
  });

  test('a leader paused past its TTL: its term ended before the successor began, and its late guard wrote nothing', async () => {
    const { election, a, aElected, b } = await leaderAndWaiter('pause');
    const bElected = await pauseLeaderPastTtl(a, () => within(elected(b), TAKEOVER_WITHIN, 'b to take over'));
    assert.deepEqual(await writes(election), [], 'the late guard wrote nothing');
    assert.ok(BigInt(aElected['token'] as string) < BigInt(bElected['token'] as string), 'tokens increase');
    assertNoOverlap(spans([a, b]));
    await Promise.all([closesByItself(a), closesByItself(b)]);
  });

  test("the leader's connections terminated: it keeps leading or hands over, never overlapping", async (t) => {
    const { election, a, b } = await leaderAndWaiter('term', true);
    const killed = await server.terminate(`application_name = '${appName(election, 'a')}'`);
    assert.ok(killed >= 1, 'the leader had connections to terminate');
    // Past a's deadline: by now it has renewed on a new connection or its term has ended.
    await sleep(TTL_MS + 1_000);
    await assertAlive(a);
    await assertAlive(b);
    const all = await settledSpans([a, b]);
    const open = all.filter((s) => s.end === Infinity);
    assert.equal(open.length, 1, 'one leader after the fault');
    const leader = await dbLeader(election);
    assert.equal(leader?.seq, open[0]!.token.toString(), 'the database agrees on the leader');
    t.diagnostic(`after pg_terminate_backend: ${all.map((s) => `${s.who}#${s.token}`).join(' → ')}`);
    await Promise.all([closesByItself(a), closesByItself(b)]);
  });

  test('the server paused past the TTL: terms end by their deadline, then one leader with a larger token', async (t) => {
    const { election, a, b } = await leaderAndWaiter('srvpause', true);
    const before = spans([a, b]);
    const pausedAt = Number(process.hrtime.bigint()) / 1e6;
    await server.pause();
    let endedWhilePaused: JsonObject;
    try {
      endedWhilePaused = await a.waitFor((m) => m['event'] === 'ended', TTL_MS + 2_000);
    } finally {
      server.resume();
    }
    assert.equal(endedWhilePaused['reason'], 'unreachable');
    assert.ok(
      (endedWhilePaused['at'] as number) <= pausedAt + TTL_MS,
      `a's term ended ${((endedWhilePaused['at'] as number) - pausedAt).toFixed(0)} ms into the pause, past its deadline`,
    );
    const maxBefore = before.reduce((m, s) => (s.token > m ? s.token : m), 0n);
    await eventually(
      () => spans([a, b]).some((s) => s.token > maxBefore && s.end === Infinity),
      ELECTED_WITHIN,
      'a new leader after the resume',
    );
    const all = await settledSpans([a, b]);
    const open = all.filter((s) => s.end === Infinity);
    assert.equal(open.length, 1, 'exactly one leader');
    assert.ok(open[0]!.token > maxBefore, 'with a larger token than before the pause');
    assert.equal((await dbLeader(election))?.seq, open[0]!.token.toString(), 'the database agrees');
    const seen = (w: Worker) =>
      w.messages.map((m) => `${String(m['event'])}${m['reason'] ? `(${String(m['reason'])})` : ''}`);
    t.diagnostic(`server paused: a saw ${seen(a).join(', ')}; b saw ${seen(b).join(', ')}`);
    await Promise.all([closesByItself(a), closesByItself(b)]);
  });

  for (const mode of ['fast', 'immediate'] as const)
    test(`the server restarted (${mode} shutdown): the election recovers, no overlap, clean close`, async (t) => {
      const { election, a, b } = await leaderAndWaiter(`restart-${mode}`, true);
      const since = Date.now();
      await server.restart(mode);
      // Recovered: some term is current, and the database names it as leader.
      await eventually(
        async () => {
          const open = spans([a, b]).filter((s) => s.end === Infinity);
          const leader = await dbLeader(election).catch(() => undefined);
          return open.length === 1 && leader?.seq === open[0]!.token.toString();
        },
        ELECTED_WITHIN,
        'a leader after the restart',
      );
      await assertAlive(a);
      await assertAlive(b);
      const all = await settledSpans([a, b]);
      t.diagnostic(
        `${mode} restart, recovered after ${Date.now() - since} ms: ${all.map((s) => `${s.who}#${s.token}`).join(' → ')}`,
      );
      await Promise.all([closesByItself(a), closesByItself(b)]);
    });

  /**
   * The waiter's LISTEN connection: application_name is its own, and its last statement a LISTEN,
   * or the listener's keep-alive ping (which no pooled connection sends) once one has gone by.
   */
  const listenConnection = (election: string, value: string) =>
    `application_name = '${appName(election, value)}' AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')`;
  const listening = async (election: string, value: string) =>
    (
      await server.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${listenConnection(election, value)}`,
      )
    ).rows[0]!['n'] as number;

  /** A leader and a waiter whose LISTEN connection the server has just terminated. */
  const waiterListenDropped = async (what: string) => {
    const pair = await leaderAndWaiter(what);
    const { election } = pair;
    await eventually(async () => (await listening(election, 'b')) === 1, 10_000, "b's LISTEN connection");
    assert.equal(await server.terminate(listenConnection(election, 'b')), 1);
    return pair;
  };

  test('LISTEN connection dropped as the leader resigns: the waiter still takes over', async () => {
    const { a, b } = await waiterListenDropped('listen-resign');
    a.send({ cmd: 'resign' });
    await a.waitFor((m) => m['event'] === 'resigned', 10_000);
    await within(elected(b), TAKEOVER_WITHIN, 'b to take over');
    assertNoOverlap(spans([a, b]));
    await Promise.all([closesByItself(a), closesByItself(b)]);
  });

  test('LISTEN connection dropped, then the leader killed: the waiter takes over at its expiry', async () => {
    const { a, b } = await waiterListenDropped('listen-kill');
    a.kill('SIGKILL');
    await a.exited;
    await within(elected(b), TAKEOVER_WITHIN, 'b to take over');
    await closesByItself(b);
  });
  describe('guards past their time or failing (in process)', () => {
    const GUARD_TIMEOUT = 500;
    const backends: Backend<PgTxn>[] = [];
    const open = (app: string) => {
      const b = postgres({
        connectionString: server.url('app'),
        applicationName: app,
        guardTimeout: GUARD_TIMEOUT,
        env: {},
      });
      backends.push(b);
      return b;
    };
    after(() => Promise.all(backends.map((b) => b.close())));
    /** Candidate a, on a backend of its own, leading `election`. */
    const leadOwn = async (election: string) =>
      (await open(`${election}-a`).session({ ttl: TTL })).election(election).campaign('a');
    const insert = (tx: PgTxn, election: string, token: bigint, value: string) =>
      tx.query('INSERT INTO public.fault_writes (election, token, value) VALUES ($1, $2, $3)', [
        election,
        token.toString(),
        value,
      ]);

    test('a guard body sleeping past guardTimeout commits nothing and holds up no takeover', async (t) => {
      const election = newElection('slow-guard');
      const a = await leadOwn(election);
      const other = open(`${election}-b`);
      const bWins = (await other.session({ ttl: TTL })).election(election).campaign('b');
      await queued(election, 2);
      const guard = a.guard(async (tx) => {
        await insert(tx, election, a.token, 'a');
        await sleep(GUARD_TIMEOUT * 4);
      });
      const outcome = guard.then(
        (r) => `committed: ${String(r.committed)}`,
        (err: Error & { code?: string }) => String(err.code),
      );
      await sleep(GUARD_TIMEOUT + 200);
      // The guard's transaction holds a share lock on a's entry until the server ends it.
      const deposing = Date.now();
      const deposed = await other.depose(election, { token: a.token });
      const deposeMs = Date.now() - deposing;
      assert.equal(deposed.outcome, 'deposed');
      assert.ok(deposeMs < GUARD_TIMEOUT * 2, `the depose waited ${deposeMs} ms for the guard's lock`);
      const b = await within(bWins, TAKEOVER_WITHIN, 'b to take over');
      assert.ok(b.token > a.token);
      assert.ok(['NOT_LEADER', 'UNAVAILABLE', 'committed: false'].includes(await outcome), await outcome);
      assert.deepEqual(await writes(election), [], 'the slow guard committed nothing');
      t.diagnostic(`slow guard: ${await outcome}; depose took ${deposeMs} ms`);
    });

    test('a guard body idle past guardTimeout while the term holds: rolled back for certain, and said so', async () => {
      const election = newElection('idle-guard');
      const term = await leadOwn(election);
      await assert.rejects(
        term.guard(async (tx) => {
          await insert(tx, election, term.token, 'late');
          await sleep(GUARD_TIMEOUT * 2);
        }),
        { code: 'UNAVAILABLE', message: /sat idle past its time limit, so the server rolled it back/ },
      );
      assert.deepEqual(await writes(election), [], 'nothing was committed');
      assert.ok(term.active, 'the term holds');
      assert.equal((await term.guard((tx) => insert(tx, election, term.token, 'next'))).committed, true);
    });

    test('a guard whose SQL fails rejects with that error, commits nothing, and the next guard commits', async () => {
      const election = newElection('failing-guard');
      const term = await leadOwn(election);
      await assert.rejects(
        term.guard(async (tx) => {
          await insert(tx, election, term.token, 'first');
          await tx.query('SELECT 1 / 0');
        }),
        { code: '22012', message: /division by zero/ },
      );
      assert.deepEqual(await writes(election), [], 'the failed guard committed nothing');
      assert.ok(term.active, 'the term holds');
      const r = await term.guard((tx) => insert(tx, election, term.token, 'second'));
      assert.equal(r.committed, true);
      assert.deepEqual(await writes(election), ['second']);
    });
  });
});
