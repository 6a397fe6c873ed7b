/**
 * The etcd demo's workers connect as the demo does: its settings travel over the worker's stdin as
 * one JSON line, and come out as the same etcd() options, --mode included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLine, workerConfig, workerEtcdOptions, type WorkerConfig } from '../src/cli/demo/protocol.js';
import type { GlobalOptions } from '../src/cli/options.js';

test('a worker gets the demo’s endpoints, mode, TLS material and credentials', () => {
  const demo: GlobalOptions = {
    backend: 'etcd',
    endpoints: ['127.0.0.1:1', '127.0.0.1:2'],
    ttl: 2,
    dialTimeout: 1500,
    tls: { ca: Buffer.from('ca pem'), key: Buffer.from('key pem') },
    auth: { username: 'u', password: 'p:w' },
    json: false,
    mode: 'service',
  };
  const line = JSON.stringify(workerConfig(demo, 'd/data'));
  const config = parseLine<WorkerConfig>(line);
  assert.ok(config);
  assert.equal(config.ttl, 2);
  assert.equal(config.dataKey, 'd/data');
  assert.deepEqual(workerEtcdOptions(config), {
    endpoints: ['127.0.0.1:1', '127.0.0.1:2'],
    dialTimeout: 1500,
    mode: 'service',
    env: {},
    tls: { ca: Buffer.from('ca pem'), key: Buffer.from('key pem') },
    auth: { username: 'u', password: 'p:w' },
  });
});
