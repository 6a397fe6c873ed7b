import { BackendUnavailableError, ClosedError } from '../core/errors.js';
import type { Compare, RequestOp, TxnRequest, TxnResponse } from './messages.js';

/** A txn the batcher can merge with others: one compare, one op if it holds, at most one if not. */
export interface SmallTxn {
  compare: Compare;
  success: RequestOp;
  failure?: RequestOp;
}

/** Txns merged into one at most; etcd refuses more than --max-txn-ops (default 128) per branch. */
const MAX_BATCH = 64;
/** Bytes of keys and values merged into one txn at most, far below etcd's 1.5 MiB request limit. */
const MAX_BATCH_BYTES = 256 * 1024;
/** A txn this large goes alone: merging saves nothing worth the risk of a request too large. */
const SOLO_BYTES = 16 * 1024;

interface Pending {
  txn: SmallTxn;
  resolve(response: TxnResponse): void;
  reject(err: unknown): void;
}

/**
 * Merges the small txns that campaigns on one client issue in the same event-loop turn (joins and
 * the check-and-find-older reads) into one txn, so that 10,000 campaigns at once cost etcd and this
 * process a few hundred calls instead of 20,000: each call allocates gRPC objects and buffers, and
 * that burst of garbage, not what the terms hold, is most of the RSS right after a mass campaign.
 *
 * Each txn keeps its meaning. A batch holds at most one txn per `group` (an election's key prefix),
 * so no two entries of one election share a create revision and no txn sees another's write. If
 * every compare holds, each txn gets its own success response; if any fails, nothing was written
 * (the merged failure branch is empty) and each txn is sent again alone, to get its own verdict.
 * If the merged call fails for want of the server (unavailable, closed), each txn fails with that
 * error as its own call would have; any other refusal (e.g. a lower --max-txn-ops, or permissions
 * that differ per key) sends each alone and makes later batches smaller.
 */
export class TxnBatcher {
  private queue: Pending[] = [];
  private readonly groups = new Set<string>();
  private bytes = 0;
  private scheduled = false;
  private limit = MAX_BATCH;

  constructor(private readonly send: (request: TxnRequest) => Promise<TxnResponse>) {}

  /** Runs `txn`, merged with others of this turn when it can be; `group` names what must not share a batch. */
  txn(txn: SmallTxn, group: string): Promise<TxnResponse> {
    const size = sizeOf(txn);
    if (this.limit <= 1 || size > SOLO_BYTES) return this.alone(txn);
    if (this.groups.has(group) || this.queue.length >= this.limit || this.bytes + size > MAX_BATCH_BYTES)
      this.flush();
    return new Promise<TxnResponse>((resolve, reject) => {
      this.queue.push({ txn, resolve, reject });
      this.groups.add(group);
      this.bytes += size;
      if (this.scheduled) return;
      this.scheduled = true;
      // After this turn's I/O callbacks: responses that arrive together start the next calls together.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.groups.clear();
    this.bytes = 0;
    this.scheduled = false;
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      this.alone(only.txn).then(only.resolve, only.reject);
    } else if (batch.length > 1) void this.merged(batch);
  }

  private async merged(batch: Pending[]): Promise<void> {
    let response: TxnResponse;
    try {
      response = await this.send({
        compare: batch.map((p) => p.txn.compare),
        success: batch.map((p) => p.txn.success),
        failure: [],
      });
    } catch (err) {
      if (err instanceof BackendUnavailableError || err instanceof ClosedError) {
        for (const p of batch) p.reject(err);
        return;
      }
      this.limit = Math.max(1, Math.floor(this.limit / 2));
      return this.eachAlone(batch);
    }
    if (!response.succeeded) return this.eachAlone(batch);
    batch.forEach((p, i) => {
      const own = response.responses[i];
      p.resolve({ header: response.header, succeeded: true, responses: own ? [own] : [] });
    });
  }

  private eachAlone(batch: Pending[]): void {
    for (const p of batch) this.alone(p.txn).then(p.resolve, p.reject);
  }

  private alone(txn: SmallTxn): Promise<TxnResponse> {
    return this.send({
      compare: [txn.compare],
      success: [txn.success],
      failure: txn.failure ? [txn.failure] : [],
    });
  }
}

/** Roughly the bytes `txn` adds to a request: its keys and values. */
function sizeOf(txn: SmallTxn): number {
  let size = 64 + txn.compare.key.length + (txn.compare.value?.length ?? 0);
  for (const op of [txn.success, txn.failure]) {
    if (!op) continue;
    if ('request_put' in op) size += op.request_put.key.length + op.request_put.value.length;
    else if ('request_range' in op)
      size += op.request_range.key.length + (op.request_range.range_end?.length ?? 0);
    else if ('request_delete_range' in op) size += op.request_delete_range.key.length;
  }
  return size;
}
