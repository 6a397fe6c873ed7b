/** The faults the demo injects, in order. */
export type FaultKind = 'resign' | 'crash' | 'pause' | 'concede';

/** One leadership change caused by a fault, and how long the next leader took. */
export interface Handover {
  fault: FaultKind;
  from: string;
  fromToken: bigint;
  /** When the fault was injected (monotonic ms). */
  faultAt: number;
  /** The expected upper bound of `latency`, from invariant 3 (handover). */
  boundMs: number;
  to?: string;
  toToken?: bigint;
  /** When the next leader's term began (monotonic ms). */
  electedAt?: number;
}

/** Time from the fault to the next leader's election, or undefined while it is pending. */
export function latency(h: Handover): number | undefined {
  return h.electedAt === undefined ? undefined : h.electedAt - h.faultAt;
}

/** Pairs each injected fault with the next term that begins after it. */
export class Handovers {
  /** Every handover so far, in order. */
  readonly all: Handover[] = [];
  private pending?: { handover: Handover; done: (h: Handover) => void };

  /** Records a fault; resolves once a newer term has begun. */
  begin(
    fault: FaultKind,
    from: string,
    fromToken: bigint,
    faultAt: number,
    boundMs: number,
  ): Promise<Handover> {
    const handover: Handover = { fault, from, fromToken, faultAt, boundMs };
    this.all.push(handover);
    return new Promise((resolve) => (this.pending = { handover, done: resolve }));
  }

  /** A term began: completes the pending handover if this term is newer than the one the fault hit. */
  elected(candidate: string, token: bigint, startedAt: number): Handover | undefined {
    const pending = this.pending;
    if (!pending || token <= pending.handover.fromToken) return undefined;
    this.pending = undefined;
    Object.assign(pending.handover, { to: candidate, toToken: token, electedAt: startedAt });
    pending.done(pending.handover);
    return pending.handover;
  }
}
