import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeCandidateValue,
  encodeCandidateValue,
  InvalidArgumentError,
  LeaderElector,
  memory,
  type LeaderChange,
} from '../src/index.js';

describe('candidate value encoding (advertise, priority)', () => {
  test('a value that publishes nothing is stored as given', () => {
    assert.equal(encodeCandidateValue('node-1'), 'node-1');
    assert.equal(encodeCandidateValue('node-1', { advertise: {}, priority: 0 }), 'node-1');
    assert.deepEqual(decodeCandidateValue('node-1'), { value: 'node-1' });
  });

  test('round trip, and texts not in the v1 form stay plain values', () => {
    const meta = { advertise: { http: 'https://a.example:8443', grpc: 'dns:///a:9090' }, priority: -1.5 };
    const stored = encodeCandidateValue('a b ballot/v1 c', meta);
    assert.deepEqual(decodeCandidateValue(stored), { value: 'a b ballot/v1 c', ...meta });
    for (const plain of [
      'x ballot/v1{',
      'x ballot/v1{"advertise":[1]}',
      'x ballot/v1{"advertise":{"http":5}}',
      'x ballot/v1{"priority":"high"}',
      'x ballot/v1[]',
      'x ballot/v1{} trailing',
    ])
      assert.deepEqual(decodeCandidateValue(plain), { value: plain }, plain);
  });

  test('bad advertise or priority is refused up front, naming the fix', () => {
    const backend = memory();
    const options = { backend, election: 'e', value: 'v' };
    assert.throws(
      () => new LeaderElector({ ...options, advertise: { http: '10.0.0.5:8080' } }),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /absolute http:\/\/ or https:\/\//.test(err.message),
    );
    assert.throws(
      () => new LeaderElector({ ...options, priority: Number.NaN }),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /priority must be a finite number/.test(err.message),
    );
  });

  test("the elector's leader event, leader() and participants() carry the parsed address", async () => {
    const backend = memory();
    const elector = new LeaderElector({
      backend,
      election: 'api',
      value: 'node-1',
      ttl: 5,
      advertise: { http: 'http://127.0.0.1:8081' },
    });
    const seen: LeaderChange[] = [];
    elector.on('leader', (change) => seen.push(change));
    const term = await new Promise((resolve) => elector.once('elected', resolve));
    assert.ok(term);
    const leader = await backend.leader('api');
    assert.equal(leader?.value, 'node-1');
    assert.deepEqual(leader?.advertise, { http: 'http://127.0.0.1:8081' });
    const [first] = await backend.participants('api');
    assert.deepEqual([first?.value, first?.advertise?.http], ['node-1', 'http://127.0.0.1:8081']);
    assert.equal(elector.term?.value, 'node-1');
    await elector.stop();
    const led = seen.find((c) => c.kind === 'leader');
    assert.deepEqual(led?.kind === 'leader' ? led.advertise : undefined, { http: 'http://127.0.0.1:8081' });
    await backend.close();
  });
});
