import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { expressGate, fastifyGate, LeaderElector, memory, type LeaderGateOptions } from '../src/index.js';
import { closeServer } from './fixtures/local-http.js';
import { GateClient } from './gate-client.js';
import { eventually } from './helpers.js';

// Two members of one service in this process on memory(): "one" campaigns first and leads, "two"
// follows. Each runs the real framework with the gate installed the way the docs say.

interface Member {
  name: string;
  url: string;
  elector: LeaderElector;
  close(): Promise<void>;
}

async function electorFor(backend: ReturnType<typeof memory>, election: string, name: string, url: string) {
  const elector = new LeaderElector({ backend, election, value: name, ttl: 5, advertise: { http: url } });
  elector.on('retrying', () => {});
  return elector;
}

async function expressMember(
  backend: ReturnType<typeof memory>,
  election: string,
  name: string,
  mode: LeaderGateOptions['mode'],
): Promise<Member> {
  const app = express();
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const elector = await electorFor(backend, election, name, url);
  const gate = expressGate(elector, { mode });
  // Mounted under /api: the follower must forward the full path, the leader's routes see theirs.
  app.use('/api', gate);
  app.post('/api/echo', express.text({ type: '*/*', limit: '1mb' }), (req, res) => {
    res.json({ name, token: res.getHeader('ballot-token'), body: req.body as string, url: req.originalUrl });
  });
  app.get('/api/who', (req, res) => {
    res.json({ name, token: res.getHeader('ballot-token'), url: req.originalUrl });
  });
  return {
    name,
    url,
    elector,
    async close() {
      await elector.stop();
      await gate.close();
      await closeServer(server);
    },
  };
}

function freeUrl(): Promise<string> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(`http://127.0.0.1:${port}`));
    });
  });
}

async function fastifyMember(
  backend: ReturnType<typeof memory>,
  election: string,
  name: string,
  mode: LeaderGateOptions['mode'],
): Promise<Member> {
  const app: FastifyInstance = Fastify();
  // The elector must advertise the address before the plugin is registered, and Fastify takes no
  // plugins after listen(): so a free port is picked first with a plain server.
  const url = await freeUrl();
  const elector = await electorFor(backend, election, name, url);
  const plugin = fastifyGate(elector, { mode });
  await app.register(plugin);
  app.post('/echo', async (request, reply) => ({
    name,
    token: reply.getHeader('ballot-token') ?? null,
    body: request.body,
  }));
  app.get('/who', async (_request, reply) => ({ name, token: reply.getHeader('ballot-token') ?? null }));
  await app.listen({ port: Number(new URL(url).port), host: '127.0.0.1' });
  return {
    name,
    url,
    elector,
    async close() {
      await elector.stop();
      await app.close();
    },
  };
}

for (const [framework, make] of [
  ['express', expressMember],
  ['fastify', fastifyMember],
] as const) {
  describe(`${framework} adapter`, () => {
    let client: GateClient;
    before(() => {
      client = new GateClient();
    });
    after(() => client.close());

    const prefix = framework === 'express' ? '/api' : '';

    async function pair(mode: LeaderGateOptions['mode'], election: string) {
      const backend = memory();
      const one = await make(backend, election, 'one', mode);
      await eventually(() => one.elector.isLeader(), 5000, 'one to lead');
      const two = await make(backend, election, 'two', mode);
      await eventually(
        () => two.elector.leaderChange?.kind === 'leader' && two.elector.leaderChange.value === 'one',
        5000,
        'two to hear of one',
      );
      return {
        one,
        two,
        async close() {
          await two.close();
          await one.close();
          await backend.close();
        },
      };
    }

    test(`proxy: a follower's request, body and all, is served by the leader under its token`, async () => {
      const { one, two, close } = await pair('proxy', `${framework}-proxy`);
      try {
        const token = one.elector.term?.token.toString();
        assert.ok(token);
        const body = 'payload '.repeat(20_000);
        const got = await client.call(`${two.url}${prefix}/echo`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'text/plain' },
        });
        assert.equal(got.status, 200, got.text);
        const echo = JSON.parse(got.text) as { name: string; token: string; body: string; url?: string };
        assert.equal(echo.name, 'one');
        assert.equal(echo.token, token);
        assert.equal(got.headers['ballot-token'], token);
        assert.equal(echo.body, body);
        if (framework === 'express') assert.equal(echo.url, '/api/echo');
        const local = await client.call(`${one.url}${prefix}/who`);
        assert.equal(JSON.parse(local.text).name, 'one');
        assert.equal(local.headers['ballot-token'], token);
        const looped = await client.call(`${two.url}${prefix}/who`, { headers: { 'ballot-forwarded': 'x' } });
        assert.equal(looped.status, 503);
        assert.equal(looped.headers['ballot-refused'], 'loop');
        assert.equal(looped.headers['retry-after'], '1');
      } finally {
        await close();
      }
    });

    test('redirect: a follower answers 307 to the leader; after the leader stops, the follower serves', async () => {
      const { one, two, close } = await pair('redirect', `${framework}-redirect`);
      try {
        const got = await client.call(`${two.url}${prefix}/who?q=1`);
        assert.equal(got.status, 307);
        assert.equal(got.headers['location'], `${one.url}${prefix}/who?q=1`);
        await one.elector.stop();
        await eventually(() => two.elector.isLeader(), 5000, 'two to lead');
        const served = await client.call(`${two.url}${prefix}/who`);
        assert.equal(served.status, 200);
        assert.equal(JSON.parse(served.text).name, 'two');
        assert.equal(served.headers['ballot-token'], two.elector.term?.token.toString());
      } finally {
        await close();
      }
    });
  });
}
