/**
 * Service metrics: plain counters bumped by the core, rendered in Prometheus text format on
 * `GET /metrics`. Labels only take bounded values (contract paths, error codes, close codes).
 * @module
 */

/** Upper bounds (seconds) of the call latency histogram buckets. */
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** Live sizes read at scrape time rather than counted. */
export interface Gauges {
  /** Open connections. */
  connections: number;
  /** Subscriptions over all connections. */
  subscriptions: number;
  /** Calls running now. */
  inflight: number;
  /** Frames waiting in slow consumers' outboxes. */
  queued: number;
}

/** One call latency histogram (per procedure). */
interface Histogram {
  /** Calls per bucket: those at most its bound and over the previous one (rendered cumulative, as Prometheus wants). */
  buckets: number[];
  sum: number;
  count: number;
}

/** What is counted of one procedure's calls: one record, found with one lookup per call. */
interface CallStats {
  /** Calls answered with a result. */
  ok: number;
  /** Calls answered with an error, by code. */
  failed: Map<string, number>;
  /** Latency of the calls whose handler ran; undefined before the first. */
  latency: Histogram | undefined;
}

/**
 * Counters of one service; every field is cheap to bump on a hot path.
 * @internal
 */
export class Metrics {
  /** Connections opened since start. */
  connectionsOpened = 0;
  /** Upgrades refused before a socket existed, by HTTP status. */
  readonly refused: Map<number, number> = new Map();
  /** Calls answered (by outcome: `ok` or an error code) and their latency, by procedure. */
  readonly calls: Map<string, CallStats> = new Map();
  /** Messages published through the service (each counts once, however many receive it). */
  published = 0;
  /** Event frames handed to sockets (one per subscriber reached). */
  delivered = 0;
  /** Event frames dropped by a slow-consumer policy, by topic. */
  readonly dropped: Map<string, number> = new Map();
  /** Volatile event frames not sent to a backed-up subscriber, by topic. */
  readonly volatileDropped: Map<string, number> = new Map();
  /** Socket closes by close code. */
  readonly closes: Map<number, number> = new Map();
  /** Frames answered with an error before dispatch (malformed, too large, rate limited…), by code. */
  readonly rejectedFrames: Map<string, number> = new Map();

  /** Records one answered call; `seconds` is omitted for calls refused before their handler ran. */
  call(method: string, outcome: string, seconds?: number): void {
    let stats = this.calls.get(method);
    if (stats === undefined) this.calls.set(method, (stats = { ok: 0, failed: new Map(), latency: undefined }));
    if (outcome === "ok") stats.ok++;
    else bump(stats.failed, outcome);
    if (seconds === undefined) return;
    const h = (stats.latency ??= { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 });
    // Only the first bucket that holds it is bumped (the rendering sums them up): most calls stop at the first.
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) h.buckets[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Records an event frame a slow-consumer policy dropped. */
  drop(topic: string, count = 1): void {
    bump(this.dropped, topic, count);
  }

  /** Records a volatile event frame a backed-up subscriber did not get. */
  dropVolatile(topic: string): void {
    bump(this.volatileDropped, topic);
  }

  /** Records a socket close. */
  close(code: number): void {
    bump(this.closes, code);
  }

  /** Records a frame refused before dispatch. */
  reject(code: string): void {
    bump(this.rejectedFrames, code);
  }

  /** Records an upgrade refused with an HTTP status. */
  refuse(status: number): void {
    bump(this.refused, status);
  }

  /** The Prometheus text exposition of every metric. */
  render(gauges: Gauges): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, rows: string[]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
    };
    metric("tether_connections", "gauge", "Open WebSocket connections", [`tether_connections ${gauges.connections}`]);
    metric("tether_connections_opened_total", "counter", "Connections opened", [`tether_connections_opened_total ${this.connectionsOpened}`]);
    metric("tether_upgrades_refused_total", "counter", "Upgrades refused before a socket existed", labelled("tether_upgrades_refused_total", "status", this.refused));
    metric("tether_subscriptions", "gauge", "Live subscriptions", [`tether_subscriptions ${gauges.subscriptions}`]);
    metric("tether_calls_inflight", "gauge", "Calls running now", [`tether_calls_inflight ${gauges.inflight}`]);
    const calls: string[] = [];
    for (const [method, stats] of this.calls) {
      const outcomes = stats.ok > 0 ? [["ok", stats.ok] as const, ...stats.failed] : stats.failed;
      for (const [outcome, n] of outcomes) calls.push(`tether_calls_total{method=${quote(method)},outcome=${quote(outcome)}} ${n}`);
    }
    metric("tether_calls_total", "counter", "Calls answered, by procedure and outcome", calls);
    const latency: string[] = [];
    for (const [method, { latency: h }] of this.calls) {
      if (h === undefined) continue;
      const m = `method=${quote(method)}`;
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => latency.push(`tether_call_duration_seconds_bucket{${m},le="${le}"} ${(cumulative += h.buckets[i]!)}`));
      latency.push(`tether_call_duration_seconds_bucket{${m},le="+Inf"} ${h.count}`);
      latency.push(`tether_call_duration_seconds_sum{${m}} ${h.sum}`, `tether_call_duration_seconds_count{${m}} ${h.count}`);
    }
    metric("tether_call_duration_seconds", "histogram", "Call latency from frame to answer", latency);
    metric("tether_messages_published_total", "counter", "Messages published", [`tether_messages_published_total ${this.published}`]);
    metric("tether_messages_delivered_total", "counter", "Event frames sent to subscribers", [`tether_messages_delivered_total ${this.delivered}`]);
    metric("tether_messages_dropped_total", "counter", "Event frames dropped by a slow-consumer policy", labelled("tether_messages_dropped_total", "topic", this.dropped));
    metric("tether_messages_volatile_dropped_total", "counter", "Volatile event frames not sent to a backed-up subscriber", labelled("tether_messages_volatile_dropped_total", "topic", this.volatileDropped));
    metric("tether_outbox_frames", "gauge", "Frames queued for slow consumers", [`tether_outbox_frames ${gauges.queued}`]);
    metric("tether_closes_total", "counter", "Socket closes by close code", labelled("tether_closes_total", "code", this.closes));
    metric("tether_frames_rejected_total", "counter", "Frames refused before dispatch, by error code", labelled("tether_frames_rejected_total", "code", this.rejectedFrames));
    return `${out.join("\n")}\n`;
  }
}

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function labelled(name: string, label: string, map: ReadonlyMap<string | number, number>): string[] {
  return [...map].map(([key, n]) => `${name}{${label}=${quote(String(key))}} ${n}`);
}

/** A Prometheus label value: quoted, with backslash, quote and newline escaped. */
function quote(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}
