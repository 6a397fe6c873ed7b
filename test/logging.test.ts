import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import {
  InvalidArgumentError,
  LeaderElector,
  ManualClock,
  memory,
  type LogFields,
  type Logger,
} from '../src/index.js';
import { jsonLogger } from '../src/cli/logger.js';
import { runCli } from '../src/cli/program.js';
import { eventually } from './helpers.js';

interface LogRecord {
  level: string;
  msg: string;
  fields: LogFields;
}

/** A Logger that keeps every record. */
function capture(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: string) => (fields: LogFields, msg: string) => void records.push({ level, msg, fields });
  return { records, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** A writable stream that collects lines. */
function lines(): { stream: Writable; lines: string[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines: out };
}

describe('logger option', () => {
  test('the elector and its sessions log structured records through the whole life of a term', async () => {
    const clock = new ManualClock();
    const backend = memory({ clock });
    const { logger, records } = capture();
    const elector = new LeaderElector({
      backend,
      election: 'log',
      value: 'a',
      ttl: 3,
      logger,
      backoff: { initial: 10 },
    });
    await clock.advance(10);
    const term = elector.term!;
    const firstSession = elector.currentSession!.id;
    backend.partition(elector.currentSession!);
    await clock.advance(4000);
    backend.heal(elector.currentSession!);
    await clock.advance(100);
    await eventually(() => elector.isLeader(), 5000, 'leading again');
    const stopping = elector.stop();
    await clock.advance(10);
    await stopping;

    const find = (msg: string) => records.filter((r) => r.msg === msg);
    const opened = find('session opened');
    const bySession = opened.filter((r) => r.fields['election'] === undefined);
    const byElector = opened.filter((r) => r.fields['election'] === 'log');
    assert.deepEqual(
      bySession.map((r) => r.level),
      ['debug', 'debug'],
      'each session logs its opening at debug',
    );
    assert.deepEqual(
      byElector.map((r) => r.level),
      ['info', 'info'],
      'the elector reports each session at info',
    );
    assert.equal(byElector[0]?.fields['session'], firstSession);
    assert.equal(bySession[0]?.fields['backend'], 'memory');
    const elected = find('elected');
    assert.equal(elected.length, 2);
    assert.equal(elected[0]?.level, 'info');
    assert.deepEqual(elected[0]?.fields, {
      election: 'log',
      session: firstSession,
      token: term.token.toString(),
    });
    const failing = find('session renewals failing');
    assert.equal(failing[0]?.level, 'warn');
    assert.equal(failing[0]?.fields['session'], firstSession);
    assert.equal(failing[0]?.fields['code'], 'UNAVAILABLE');
    assert.equal(typeof failing[0]?.fields['deadlineLeftMs'], 'number');
    const lost = find('session lost');
    assert.equal(lost[0]?.level, 'error');
    assert.equal(lost[0]?.fields['reason'], 'unreachable');
    const deposed = find('deposed');
    assert.deepEqual(
      deposed.map((r) => [r.level, r.fields['reason']]),
      [
        ['warn', 'unreachable'],
        ['info', 'resigned'],
      ],
    );
    assert.equal(typeof deposed[0]?.fields['termMs'], 'number');
    assert.equal(records.at(-1)?.msg, 'elector stopped', 'the last record');
    await backend.close();
  });

  test('retries go to the logger with their delay, and no process warning is emitted', async () => {
    const backend = memory();
    const { logger, records } = capture();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
    process.on('warning', onWarning);
    const driver = (backend as unknown as { driver: { connect: () => Promise<void> } }).driver;
    const connect = driver.connect;
    driver.connect = () => Promise.reject(new Error('simulated outage'));
    const elector = new LeaderElector({
      backend,
      election: 'retry',
      value: 'a',
      ttl: 2,
      logger,
      backoff: { initial: 5, max: 20 },
    });
    try {
      await eventually(() => records.filter((r) => r.msg === 'retrying').length >= 2, 5000, 'two retries');
      const retry = records.find((r) => r.msg === 'retrying')!;
      assert.equal(retry.level, 'warn');
      assert.equal(retry.fields['delayMs'], 5);
      assert.equal(retry.fields['err'], 'simulated outage');
      driver.connect = connect;
      await eventually(() => elector.isLeader(), 5000, 'leading after the outage');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w === 'BALLOT_ELECTOR_RETRYING'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      await elector.stop();
      await backend.close();
    }
  });

  test('a pino logger fits as it is, and is silent below its level', async () => {
    const { stream, lines: out } = lines();
    const backend = memory();
    const elector = new LeaderElector({
      backend,
      election: 'pino',
      value: 'a',
      ttl: 2,
      logger: pino({ level: 'info' }, stream),
    });
    await eventually(() => elector.isLeader(), 5000, 'leading');
    await elector.stop();
    await backend.close();
    await eventually(() => out.some((l) => l.includes('elector stopped')), 5000, 'pino flushed');
    const records = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    const elected = records.find((r) => r['msg'] === 'elected');
    assert.equal(elected?.['election'], 'pino');
    assert.equal(elected?.['level'], 30, "pino's info");
    assert.equal(typeof elected?.['token'], 'string');
    assert.equal(
      records.filter((r) => r['msg'] === 'session opened' && r['level'] === 20).length,
      0,
      'no debug',
    );
  });

  test('logger must have the four methods; without one nothing is written', async () => {
    const backend = memory();
    assert.throws(
      () =>
        new LeaderElector({ backend, election: 'x', value: 'a', logger: { info() {} } as unknown as Logger }),
      (err: unknown) => err instanceof InvalidArgumentError && /no debug\(\) method/.test(err.message),
    );
    await assert.rejects(
      backend.session({ logger: 42 as unknown as Logger }),
      /session logger must be an object/,
    );
    await backend.close();
  });
});

describe('CLI log lines', () => {
  test('jsonLogger writes one JSON object per line from its level, bigints as strings', () => {
    const { stream, lines: out } = lines();
    const logger = jsonLogger('info', stream);
    logger.debug({ a: 1 }, 'hidden');
    logger.info({ token: 5n, election: 'e' }, 'elected');
    logger.error({ reason: 'unreachable' }, 'session lost');
    assert.equal(out.length, 2);
    const [first, second] = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(first?.['level'], 'info');
    assert.equal(first?.['msg'], 'elected');
    assert.equal(first?.['token'], '5');
    assert.match(String(first?.['time']), /^\d{4}-\d\d-\d\dT/);
    assert.equal(second?.['level'], 'error');
    const silent = lines();
    const none = jsonLogger('silent', silent.stream);
    none.error({}, 'x');
    assert.deepEqual(silent.lines, []);
  });

  test('--log-level and BALLOT_LOG are checked: a bad level is a usage error (exit 2)', async () => {
    const saved = process.env['BALLOT_LOG'];
    const stderr = process.stderr.write.bind(process.stderr);
    const written: string[] = [];
    process.stderr.write = ((chunk: string) =>
      written.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      assert.equal(await runCli(['node', 'ballot', 'leader', 'e', '--log-level', 'loud']), 2);
      process.env['BALLOT_LOG'] = 'chatty';
      assert.equal(await runCli(['node', 'ballot', 'leader', 'e']), 2);
    } finally {
      process.stderr.write = stderr;
      if (saved === undefined) delete process.env['BALLOT_LOG'];
      else process.env['BALLOT_LOG'] = saved;
    }
    assert.match(written.join(''), /--log-level must be one of debug, info, warn, error, silent, got "loud"/);
    assert.match(written.join(''), /\$BALLOT_LOG must be one of/);
  });
});
