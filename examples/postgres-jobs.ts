// Leader election on the PostgreSQL you already run: the guard runs your own SQL in one
// transaction that commits only while the term holds, so a deposed leader's late write never lands.
//   DATABASE_URL=postgres://app@127.0.0.1:5432/app node --import tsx examples/postgres-jobs.ts
import { BallotError, postgres } from 'ballot';

// #region readme
// $DATABASE_URL (or PGHOST, PGUSER, ...); ballot keeps its tables in schema "ballot", made on first use.
const backend = postgres();
const a = await backend.session({ ttl: 5 }); // a row in ballot.sessions, renewed every TTL/3
const b = await backend.session({ ttl: 5 });

const termA = await a.election('billing').campaign('pod-a');
await termA.guard(async (tx) => {
  // Your tables, your SQL: it commits only if "pod-a" still leads when the transaction runs.
  await tx.query('CREATE TABLE IF NOT EXISTS invoice_runs (token bigint PRIMARY KEY, runner text NOT NULL)');
  await tx.query('INSERT INTO invoice_runs (token, runner) VALUES ($1, $2)', [termA.token, 'pod-a']);
});
console.log(`pod-a ran invoices with token ${termA.token}`);

// pod-b waits its turn; pod-a resigns and pod-b leads at once, with a greater token.
const bLeads = b.election('billing').campaign('pod-b');
await a.election('billing').resign();
const termB = await bLeads;
const runs = await termB.guard(async (tx) => {
  await tx.query('INSERT INTO invoice_runs (token, runner) VALUES ($1, $2)', [termB.token, 'pod-b']);
  const { rows } = await tx.query<{ runner: string }>('SELECT runner FROM invoice_runs ORDER BY token');
  return rows.map((row) => row.runner);
});
console.log(`pod-b ran invoices with token ${termB.token}; runs so far: ${runs.result?.join(', ')}`);

// pod-a's term is over: its guard runs nothing, however late it comes.
try {
  await termA.guard((tx) =>
    tx.query('INSERT INTO invoice_runs (token, runner) VALUES ($1, $2)', [0, 'stale']),
  );
} catch (err) {
  if (!(err instanceof BallotError && err.code === 'NOT_LEADER')) throw err;
  console.log(`pod-a's late write: refused (${err.code})`);
}
// #endregion

await backend.close(); // deletes both sessions' rows (their entries go with them), then the pool
