/**
 * Type-level checks of the serving helpers, compiled by `tsc --noEmit` (never run): the gate takes
 * an elector on any backend, and the adapters fit the real Express and Fastify types.
 */
import http from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import {
  etcd,
  expressGate,
  fastifyGate,
  leaderFetch,
  leaderGate,
  LeaderElector,
  memory,
  postgres,
  type LeaderChange,
} from '../../src/index.js';

/** Never called: only compiled. */
export async function serveTypes(): Promise<void> {
  for (const backend of [etcd(), memory(), postgres()]) {
    const elector = new LeaderElector({
      backend,
      election: 'api',
      value: 'a',
      advertise: { http: 'http://h:1' },
    });
    const gate = leaderGate(elector, { mode: 'proxy', headersTimeout: 1000 });
    http.createServer((req, res) => gate(req, res, () => res.end()));
    const seen: LeaderChange | undefined = gate.leader;
    void seen;
    // @ts-expect-error the mode is required
    leaderGate(elector, {});
    // @ts-expect-error only 307 and 308 keep the method
    leaderGate(elector, { mode: 'redirect', redirectStatus: 302 });

    express().use(expressGate(elector, { mode: 'redirect' }));
    await Fastify().register(fastifyGate(elector, { mode: 'proxy' }));

    const call = leaderFetch(backend, 'api');
    const response = await call('/jobs', { method: 'POST', body: '{}' });
    const status: number = response.status;
    void status;
    await call.close();
  }
}
