import { systemClock } from '../../core/clock.js';
import type {
  BackendDriver,
  BackendLimits,
  BackendStats,
  ElectionDriver,
  ElectionView,
  Liveness,
} from '../../core/contract.js';
import type { SqlAdapter } from '../../postgres/adapter.js';
import { Notifier } from '../../postgres/notifier.js';
import { translate } from '../../postgres/errors.js';
import { composeDriver } from '../shared/compose.js';
import { KeySpaces } from '../shared/key-spaces.js';
import { run, type PgContext } from './context.js';
import { PgEntries } from './entries.js';
import { guardTransaction } from './fence.js';
import { kvGetParams } from './kv.js';
import type { CheckedOptions } from './options.js';
import { ensureSchema } from './schema.js';
import { Statements } from './statements.js';
import type { PgTxn } from './txn.js';
import { PgView } from './view.js';

/**
 * PostgreSQL's limits are ballot's choice: TTLs in whole ms (intervals resolve to 1 us), from 1 s
 * (renewals every TTL/3 should not outpace a busy pool) to a day; values up to 1 MiB, as on etcd.
 */
export const POSTGRES_LIMITS: BackendLimits = {
  maxValueBytes: 1024 * 1024,
  ttl: { minMs: 1000, maxMs: 86_400_000, granularityMs: 1 },
};

/** Runs ballot's core on PostgreSQL tables (see LIVENESS ... LIMITS in core/contract.ts). */
export class PgDriver implements BackendDriver<PgTxn> {
  readonly kind = 'postgres';
  readonly clock = systemClock;
  readonly limits = POSTGRES_LIMITS;
  readonly callTimeout: number;
  readonly liveness: Liveness;
  private readonly ctx: PgContext;
  private readonly migrate: boolean;
  private connected?: Promise<void>;

  constructor(
    private readonly adapter: SqlAdapter,
    options: CheckedOptions,
  ) {
    this.callTimeout = options.callTimeout;
    this.migrate = options.migrate;
    this.ctx = {
      adapter,
      schema: options.schema,
      sql: new Statements(options.schema),
      notifier: new Notifier(adapter, options.pollMs),
      clock: systemClock,
      callTimeout: options.callTimeout,
      guardTimeout: options.guardTimeout,
      ttls: new Map(),
      keySpaces: new KeySpaces(),
      inflight: new Map(),
      observers: new Map(),
      probes: new Map(),
    };
    const ctx = this.ctx;
    this.liveness = {
      open: async (ttlMs) => {
        const { rows } = await run(ctx, ctx.sql.openSession, [ttlMs], 'opening a session');
        const id = String(rows[0]?.['id']);
        ctx.ttls.set(id, ttlMs);
        return { id, ttlMs };
      },
      renew: async (id) => {
        const { rows } = await run(ctx, ctx.sql.renewSession, [id], `renewing session ${id}`);
        return rows[0] ? Number(rows[0]['ttl_ms']) : 0;
      },
      end: async (id) => {
        ctx.ttls.delete(id);
        await run(ctx, ctx.sql.endSession, [id], `ending session ${id}`);
      },
    };
  }

  connect(): Promise<void> {
    this.connected ??= ensureSchema(this.adapter, this.ctx.schema, this.migrate, this.callTimeout).catch(
      (err: unknown) => {
        this.connected = undefined;
        throw err;
      },
    );
    return this.connected;
  }

  election(name: string, session: string): ElectionDriver<PgTxn> {
    this.ctx.keySpaces.add('election', name);
    return this.compose(name, session);
  }

  mutex(name: string, session: string): ElectionDriver<PgTxn> {
    this.ctx.keySpaces.add('mutex', name);
    return this.compose(name, session);
  }

  view(name: string): ElectionView {
    return new PgView(this.ctx, name);
  }

  async get(key: string): Promise<string | undefined> {
    const { rows } = await run(this.ctx, this.ctx.sql.kvGet, kvGetParams(key), `reading "${key}"`);
    return rows[0] === undefined ? undefined : String(rows[0]['value']);
  }

  async *elections(namePrefix: string): AsyncGenerator<string> {
    const { rows } = await run(this.ctx, this.ctx.sql.elections, [namePrefix], 'listing elections');
    for (const row of rows) yield String(row['election']);
  }

  stats(): BackendStats {
    return { events: this.ctx.notifier.delivered };
  }

  async close(): Promise<void> {
    await this.ctx.notifier.close();
    try {
      await this.adapter.close();
    } catch (err) {
      throw translate(err, this.adapter.where, 'closing');
    }
  }

  private compose(name: string, session: string): ElectionDriver<PgTxn> {
    const view = new PgView(this.ctx, name);
    return composeDriver<PgTxn>(new PgEntries(this.ctx, view, session), view, (e, body) =>
      guardTransaction(this.ctx, name, e, body),
    );
  }
}
