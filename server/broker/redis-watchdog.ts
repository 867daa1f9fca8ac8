/**
 * The watchdog of the Redis broker's connections (its command and pub/sub connections, on a cluster
 * those to every master): which are up, down or stalled.
 *
 * node-redis sees a closed or refused connection, but not a stalled one (a dead NAT entry, a
 * partition: the socket stays open and nothing comes back). The watchdog PINGs each connection in
 * turn. A PING waits behind what was queued before it (a burst of publishes keeps it seconds while
 * replies keep arriving): a connection counts as stalled when for `stallTimeout` its PING stayed
 * unanswered and nothing moved on it, neither a reply nor, while the PING was not yet written, a
 * command going out. The stalled connection is torn down and opened again, so that commands waiting
 * on it fail at once and its subscriptions come back through the normal reconnect and catch-up. A
 * connection attempt that hangs as long (connected, but its handshake or resubscribe gets no answer)
 * is started over too. Every change it sees is reported with its reason; the link (redis-link.ts)
 * turns them into states and logs.
 * @module
 */
import type { Traffic } from "./traffic-count.ts";

/** A connection the watchdog watches (a node-redis client). */
export interface LinkClient {
  readonly isReady: boolean;
  destroy(): void;
  connect(): Promise<unknown>;
  on(event: "connect" | "ready" | "reconnecting", listener: () => void): unknown;
}

/** A connection to watch, named for logs, with what moves on it (the watchdog PINGs through it). */
export interface WatchedConnection extends Traffic {
  name: string;
  client: LinkClient;
}

/** The connections to watch: on a Redis Cluster they change with its topology. */
export interface LinkConnections {
  /** Whether the broker as a whole is ready (a cluster: its topology known too). */
  readonly isReady: boolean;
  connections(): WatchedConnection[];
}

/** How a link is doing. */
export type LinkState = "up" | "down" | "stalled";

/** Timing of the watchdog. */
export interface LinkTiming {
  /** Milliseconds between two PINGs on a connection. @default 1000 */
  pingInterval?: number;
  /**
   * Milliseconds a PING may stay unanswered, with nothing else moving on its connection meanwhile,
   * before the link counts as stalled. @default 3000
   */
  stallTimeout?: number;
}

/** One watched connection. */
interface Watched extends WatchedConnection {
  /** When the PING now waiting for its answer was sent. */
  pingSince: number | undefined;
  /** Whether that PING has left the queue for the socket: from then on only replies show progress. */
  pingWritten: boolean;
  /** While a PING waits: since when nothing moved on the connection (its send, or the last tick that saw progress). */
  quietSince: number;
  /** The reply and write counts when `quietSince` was set. */
  repliesSeen: number;
  writesSeen: number;
  stalled: boolean;
  /**
   * Whether it was ever ready. A connection still opening for the first time (a cluster's pub/sub
   * connection to a master that just got its first subscription) does not turn the link down; if
   * its handshake hangs for `stallTimeout`, the watchdog marks it stalled.
   */
  wasReady: boolean;
  /** When the current connection attempt began (or last made progress), while not ready. */
  attemptSince: number;
}

/** Watches every connection of the Redis broker with one timer and tells their joint state. */
export class LinkWatchdog {
  private readonly watched = new Map<LinkClient, Watched>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly tickEvery: number;
  /** When the watchdog last ran, to tell a stalled link from a blocked event loop. */
  private lastTick = Date.now();
  private readonly stallTimeout: number;

  /**
   * @param clients the broker's connections, all ready
   * @param timing watchdog timing
   * @param onChange called with the reason whenever a connection's state may have changed
   */
  constructor(
    private readonly clients: LinkConnections,
    timing: LinkTiming,
    private readonly onChange: (reason: string) => void,
  ) {
    const pingInterval = timing.pingInterval ?? 1000;
    this.stallTimeout = timing.stallTimeout ?? 3000;
    this.tickEvery = Math.max(50, Math.min(pingInterval, this.stallTimeout / 2));
    this.sync();
  }

  /** Watches connections that appeared (a cluster's new node or pub/sub connection) and drops those that are gone. */
  private sync(): void {
    const now = Date.now();
    const seen = new Set<LinkClient>();
    for (const connection of this.clients.connections()) {
      const { client } = connection;
      seen.add(client);
      if (this.watched.has(client)) continue;
      const w: Watched = {
        ...connection,
        pingSince: undefined,
        pingWritten: false,
        quietSince: now,
        repliesSeen: 0,
        writesSeen: 0,
        stalled: false,
        wasReady: client.isReady,
        attemptSince: now,
      };
      this.watched.set(client, w);
      const attempt = () => (w.attemptSince = Date.now());
      client.on("connect", attempt);
      client.on("ready", () => {
        w.stalled = false;
        w.wasReady = true;
        w.pingSince = undefined;
        this.onChange(`the ${w.name} connection is ready`);
      });
      client.on("reconnecting", () => {
        attempt();
        this.onChange(`the ${w.name} connection was lost; reconnecting`);
      });
    }
    for (const client of [...this.watched.keys()]) if (!seen.has(client)) this.watched.delete(client);
  }

  /** The joint state: up only when every connection is ready and answers PINGs. */
  get state(): LinkState {
    const watched = [...this.watched.values()];
    if (watched.some((w) => w.stalled)) return "stalled";
    return this.clients.isReady && watched.every((w) => w.client.isReady || !w.wasReady) ? "up" : "down";
  }

  /** Starts the watchdog (one timer for every connection). */
  start(): void {
    this.lastTick = Date.now();
    this.timer ??= setInterval(() => this.tick(), this.tickEvery);
  }

  /** Stops the watchdog. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    // A tick far behind its time means this process did not run (a busy machine, a long GC): the
    // answers may be waiting unread in the socket. No verdict now; they are read before the next tick.
    const late = now - this.lastTick > 2 * this.tickEvery + 100;
    this.lastTick = now;
    if (late) return;
    this.sync();
    for (const w of this.watched.values()) {
      if (!w.client.isReady) {
        if (now - w.attemptSince < this.stallTimeout) continue;
        // Connected but never ready (a silent peer never answers the handshake): start over.
        w.stalled = true;
        this.onChange(`the ${w.name} connection got no answer to its handshake for ${now - w.attemptSince} ms`);
        this.reopen(w);
        continue;
      }
      if (w.pingSince === undefined) {
        const sent = (w.pingSince = w.quietSince = now);
        w.pingWritten = false;
        w.repliesSeen = w.replies();
        w.writesSeen = w.writes();
        w.ping(() => {
          if (w.pingSince === sent) w.pingWritten = true;
        }).then(() => {
          if (w.pingSince === sent) w.pingSince = undefined;
        }, () => {
          if (w.pingSince === sent) w.pingSince = undefined;
        });
        continue;
      }
      const replies = w.replies();
      const writes = w.writes();
      if (replies !== w.repliesSeen || (!w.pingWritten && writes !== w.writesSeen)) {
        // Replies came, or commands queued before the PING went out: the connection works, the PING waits its turn.
        w.repliesSeen = replies;
        w.writesSeen = writes;
        w.quietSince = now;
      } else if (now - w.quietSince >= this.stallTimeout) {
        w.stalled = true;
        this.onChange(`the ${w.name} connection answered no PING for ${now - w.pingSince} ms and nothing else for ${now - w.quietSince} ms`);
        this.reopen(w);
      }
    }
  }

  /** Tears a stalled connection down and opens it again; what waited on it fails now. */
  private reopen(w: Watched): void {
    w.pingSince = undefined;
    w.attemptSince = Date.now();
    w.client.destroy();
    // connect() retries by the reconnect strategy until Redis answers or the broker closes.
    w.client.connect().catch(() => {});
  }
}
