import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { etcd, type Backend } from '../src/index.js';
import { entryKeys, startEtcd, type EtcdNode } from './fixtures/etcd.js';
import { eventually, isPending, within } from './helpers.js';

/** POSTs JSON to etcd's gRPC gateway, as a client in any language could. */
async function gateway(
  node: EtcdNode,
  path: string,
  body: object,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const init: RequestInit = { method: 'POST', body: JSON.stringify(body) };
  if (signal) init.signal = signal;
  const response = await fetch(`http://${node.endpoint}${path}`, init);
  return (await response.json()) as Record<string, unknown>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('one election shared by every kind of client', () => {
  let node: EtcdNode;
  let clientMode: Backend;
  let serviceMode: Backend;
  before(async () => {
    node = await startEtcd();
    clientMode = etcd({ endpoints: [node.endpoint] });
    serviceMode = etcd({ endpoints: [node.endpoint], mode: 'service' });
  });
  after(async () => {
    await clientMode.close();
    await serviceMode.close();
    await node.stop();
  });

  test('client-side ballot, service-mode ballot, etcdctl elect and a raw HTTP campaign hand over in order', async () => {
    const name = 'four-kinds';
    const entries = () => entryKeys(node, name);
    const a = (await clientMode.session({ ttl: 10 })).election(name);
    const b = (await serviceMode.session({ ttl: 10 })).election(name);
    await a.campaign('client-side');
    const pb = b.campaign('service-mode');
    await eventually(async () => (await entries()).length === 2, 5000, 'the service-mode candidate to queue');

    const go = spawn('etcdctl', [`--endpoints=${node.endpoint}`, 'elect', name, 'etcdctl'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let goOut = '';
    go.stdout.on('data', (d: Buffer) => (goOut += d.toString()));
    const goExited = new Promise((resolve) => go.once('exit', resolve));
    try {
      await eventually(async () => (await entries()).length === 3, 10_000, 'etcdctl to queue');
      const lease = (await gateway(node, '/v3/lease/grant', { TTL: 30 }))['ID'] as string;
      const http = gateway(node, '/v3/election/campaign', { name: b64(name), lease, value: b64('http') });
      await eventually(async () => (await entries()).length === 4, 10_000, 'the HTTP campaign to queue');

      await a.resign();
      const tb = await within(pb, 5000, 'the service-mode candidate to lead');
      assert.equal((await a.leader())?.value, 'service-mode');
      assert.equal(goOut, '', 'etcdctl still waits');
      assert.ok(await isPending(http));

      await b.resign();
      await eventually(() => goOut.includes('etcdctl'), 10_000, 'etcdctl to be elected');
      assert.ok(await isPending(http), 'HTTP still waits behind etcdctl');
      go.kill('SIGINT');
      await within(goExited, 10_000, 'etcdctl to resign and exit');

      const won = (await within(http, 10_000, 'the HTTP campaign to win'))['leader'] as { rev: string };
      assert.ok(BigInt(won.rev) > tb.token, 'tokens follow create-revision order');
      assert.equal((await a.leader())?.value, 'http');
      await gateway(node, '/v3/lease/revoke', { ID: lease });
      await eventually(async () => (await entries()).length === 0, 5000, 'the election to empty');
    } finally {
      go.kill('SIGKILL');
    }
  });
});
