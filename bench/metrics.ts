/**
 * etcd's Prometheus counters, read from `GET <clientUrl>/metrics`: the server's own count of what
 * clients cost it (watch events sent, keepalive requests, streams open), which a client cannot
 * under-report. Names checked against etcd 3.4.23.
 */

/** One scrape of etcd's /metrics. */
export class MetricsSnapshot {
  private readonly samples: { name: string; labels: string; value: number }[];

  constructor(text: string) {
    this.samples = [];
    for (const row of text.split('\n')) {
      if (row === '' || row.startsWith('#')) continue;
      const match = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(row);
      if (!match) continue;
      this.samples.push({ name: match[1] ?? '', labels: match[2] ?? '', value: Number(match[3]) });
    }
  }

  /** Sum of every sample of `name` whose labels include all of `labels` (e.g. {grpc_method: 'Watch'}). */
  sum(name: string, labels: Record<string, string> = {}): number {
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    let total = 0;
    let found = false;
    for (const s of this.samples) {
      if (s.name !== name || !wanted.every((w) => s.labels.includes(w))) continue;
      total += s.value;
      found = true;
    }
    // A renamed metric must fail the run, not read as zero and pass a target.
    if (!found) throw new Error(`etcd /metrics has no ${name} ${JSON.stringify(labels)}`);
    return total;
  }

  /** Watch events etcd has sent to watchers (all clients). */
  get watchEvents(): number {
    return this.sum('etcd_debugging_mvcc_events_total');
  }

  /** Watchers registered on the server right now (a gauge). */
  get watchers(): number {
    return this.sum('etcd_debugging_mvcc_watcher_total');
  }

  /** LeaseKeepAlive requests etcd has received (one per keepalive of any lease). */
  get keepAliveRequests(): number {
    return this.sum('grpc_server_msg_received_total', { grpc_method: 'LeaseKeepAlive' });
  }

  /** Streams of a bidi method (Watch, LeaseKeepAlive, ...) open right now: started minus finished. */
  openStreams(method: string): number {
    const labels = { grpc_method: method, grpc_type: 'bidi_stream' };
    return this.sum('grpc_server_started_total', labels) - this.sum('grpc_server_handled_total', labels);
  }
}

/** Reads etcd's metrics once. */
export async function scrape(clientUrl: string): Promise<MetricsSnapshot> {
  const response = await fetch(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${clientUrl}/metrics: HTTP ${response.status}`);
  return new MetricsSnapshot(await response.text());
}
