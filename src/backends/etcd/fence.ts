import type { Entry } from '../../core/contract.js';
import { BackendUnavailableError } from '../../core/errors.js';
import { committed, type GuardBody, type GuardOp, type GuardResult } from '../../core/guard.js';
import type { EtcdClient } from '../../etcd/client.js';
import type { Compare, RequestOp, TxnResponse } from '../../etcd/messages.js';
import type { KeySpaces } from './keys.js';
import { EtcdTxn } from './txn.js';

/** The compare that makes an operation conditional on the term: the entry still has its create revision. */
export function ownedBy(e: Pick<Entry, 'key' | 'token'>): Compare {
  return { result: 'EQUAL', target: 'CREATE', key: Buffer.from(e.key), create_revision: e.token.toString() };
}

/**
 * The guard of both modes: the body collects ops into an EtcdTxn, then one txn applies them only
 * while `e` still has its create revision. The lease and key layout are the same in both modes,
 * so a Term fences alike. A body that throws, or an op in an election's key space, sends nothing.
 */
export async function guardTxn(
  client: EtcdClient,
  keySpaces: KeySpaces,
  e: Entry,
  body: GuardBody<EtcdTxn>,
): Promise<GuardResult> {
  const tx = new EtcdTxn();
  const returned = await tx.run(body);
  keySpaces.check(tx.ops);
  let response: TxnResponse;
  try {
    // Never resent: if the first attempt was applied but its reply lost, a second one would fail
    // its compare and report an applied write as refused.
    response = await client.txn(
      { compare: [ownedBy(e)], success: tx.ops.map(toRequestOp), failure: [] },
      { retry: false },
    );
  } catch (err) {
    if (!(err instanceof BackendUnavailableError)) throw err;
    throw new BackendUnavailableError(
      `guarded write outcome unknown (it may or may not have been applied): ${err.message}`,
      { cause: err },
    );
  }
  if (!response.succeeded) return { committed: false, values: [] };
  const values: (string | undefined)[] = [];
  tx.ops.forEach((op, i) => {
    if (op.op === 'get') values.push(response.responses[i]?.response_range?.kvs[0]?.value.toString());
  });
  return committed(values, returned, tx);
}

function toRequestOp(op: GuardOp): RequestOp {
  const key = Buffer.from(op.key);
  if (op.op === 'put') return { request_put: { key, value: Buffer.from(op.value) } };
  if (op.op === 'delete') return { request_delete_range: { key } };
  return { request_range: { key } };
}
