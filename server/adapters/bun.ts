/**
 * The Bun adapter: `Bun.serve` websocket handlers, translated to the core's socket API.
 * Untargeted topic events go through Bun's native `server.publish`, all-but-sender ones through the
 * sender's `ws.publish`.
 * @module
 */
import { oneMessage, SplitFrame, type WireFrame } from "../../shared/binary-frame.ts";
import type { ContractTree } from "../../shared/contract.ts";
import type { RpcError } from "../../shared/errors.ts";
import { SUBPROTOCOL } from "../../shared/protocol.ts";
import type { Connection } from "../connection.ts";
import type { SendResult } from "../socket.ts";
import type { HeartbeatOptions } from "../heartbeat.ts";
import { type Route, routeRequest } from "../http.ts";
import { OVERSIZE_CLOSE_FACTOR } from "../options.ts";
import type { Service } from "../service.ts";
import type { RunningServer, ServeOptions } from "./serve-options.ts";

/**
 * The runtime's own idle check (Bun's `idleTimeout`), in whole seconds: twice the heartbeat timeout,
 * capped at Bun's maximum, 960 s. Bun resets it on every frame it sends, the beats included, so it
 * never fires before Tether's sweep: it only covers a server that stopped beating.
 */
function runtimeIdleTimeout(options: HeartbeatOptions): number {
  return Math.min(960, Math.ceil((2 * options.timeout) / 1000));
}

/** The members of Bun's ServerWebSocket this adapter uses. */
interface BunSocket {
  data: BunSocketAdapter;
  send(data: string | Uint8Array): number;
  cork(callback: () => void): void;
  close(code?: number, reason?: string): void;
  getBufferedAmount(): number;
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  publish(channel: string, data: string | Uint8Array): number;
}

/** What the upgrade decided, kept on a socket until it opens: what authentication returned, and `refused` only when it failed. */
interface PendingUpgrade {
  upgrade: { auth: unknown; refused?: RpcError };
  /** The peer address. */
  ip: string;
}

/**
 * What this adapter keeps on each Bun socket (its `data`), and the core's socket API over it. One
 * object per socket, a class rather than an object of closures: its methods live on the prototype;
 * two fields and no accessors keep it in Bun's 32-byte size class (bench/, memory per idle connection).
 */
class BunSocketAdapter {
  /** The socket, set when it opens. */
  private ws!: BunSocket;
  /** What the upgrade decided until the socket opens (a refused one gets its error and a 4401 / 4403 close), then the connection the core opened on it. */
  private state: PendingUpgrade | Connection<unknown>;

  /** @param pending what the upgrade decided (authentication's result, or its refusal) and the peer address, kept until the socket opens */
  constructor(pending: PendingUpgrade) {
    this.state = pending;
  }

  /** Binds the opened socket and hands back what its upgrade decided (once). */
  opened(ws: BunSocket): PendingUpgrade {
    this.ws = ws;
    return this.state as PendingUpgrade;
  }

  /** Keeps the connection the core opened on this socket; what opening needed is let go. */
  attach(conn: Connection<unknown>): void {
    this.state = conn;
  }

  /** The connection on this socket; undefined before it opened. */
  connection(): Connection<unknown> | undefined {
    return "upgrade" in this.state ? undefined : this.state;
  }

  send(frame: WireFrame): SendResult {
    if (frame instanceof SplitFrame) return this.sendSplit(frame);
    // Bun answers bytes written, -1 when it queued the frame past backpressureLimit, 0 when it dropped it.
    const sent = this.ws.send(frame);
    return sent > 0 ? "written" : sent === 0 ? "dropped" : "queued";
  }
  /** A split frame's messages, corked: they leave together, with nothing between them. */
  private sendSplit(frame: SplitFrame): SendResult {
    let result: SendResult = "written";
    this.ws.cork(() => {
      for (const message of frame.messages) {
        const sent = this.ws.send(message);
        if (sent === 0) result = "dropped";
        else if (sent < 0 && result === "written") result = "queued";
      }
    });
    return result;
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
  bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }
  subscribe(channel: string): void {
    this.ws.subscribe(channel);
  }
  unsubscribe(channel: string): void {
    this.ws.unsubscribe(channel);
  }
  publish(channel: string, frame: WireFrame): boolean {
    // Bun's publish from a socket skips that socket (publishToSelf is off); it answers like server.publish.
    return this.ws.publish(channel, oneMessage(frame)) > 0;
  }
}

/** The members of Bun's Server this adapter uses. */
interface BunServer {
  port: number;
  upgrade(request: Request, options: { data: BunSocketAdapter; headers: Record<string, string> }): boolean;
  publish(channel: string, data: string | Uint8Array): number;
  requestIP(request: Request): { address: string } | null;
  timeout(request: Request, seconds: number): void;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** The members of the `Bun` namespace this adapter uses. */
interface BunRuntime {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
    websocket: {
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
      close(ws: BunSocket, code: number, reason: string): void;
      drain(ws: BunSocket): void;
      idleTimeout: number;
      sendPings: boolean;
      maxPayloadLength: number;
      backpressureLimit: number;
      closeOnBackpressureLimit: boolean;
      perMessageDeflate: boolean;
    };
  }): BunServer;
}

/** Milliseconds `stop()` lets close frames go out before it resets the sockets still open. */
const CLOSE_LINGER = 50;

/**
 * Serves a service on Bun.
 * @example const server = serveBun(service, { port: 0 }); console.log(server.url)
 */
export function serveBun<C extends ContractTree, A>(service: Service<C, A>, options: ServeOptions = {}): RunningServer {
  // This file only runs on Bun; the cast keeps its types free of bun-types.
  const bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;
  const hostname = options.hostname ?? "127.0.0.1";
  const { limits, heartbeat, maxBufferedBytes } = service.options;
  /** The peer address of the last request. */
  let lastIp = "";
  const server = bun.serve({
    port: options.port ?? 8080,
    hostname,
    fetch(request, srv) {
      const address = srv.requestIP(request)?.address ?? "";
      // Sockets from one address (a proxy, a NAT, the bench) share one string rather than a copy each.
      const ip = address === lastIp ? lastIp : (lastIp = address);
      // Answered in the same turn when it can be: an upgrade decided after an await holds more memory per socket on Bun.
      const route = routeRequest(service, request, ip);
      if (route instanceof Promise) return route.then((r) => answer(r, request, srv, ip));
      return answer(route, request, srv, ip);
    },
    websocket: {
      open(ws) {
        const { upgrade, ip } = ws.data.opened(ws);
        ws.data.attach(service.open(ws.data, upgrade.auth as A, ip, upgrade.refused) as Connection<unknown>);
      },
      message(ws, message) {
        const conn = ws.data.connection();
        if (conn !== undefined) service.receive(conn as Connection<A>, message);
      },
      close(ws, code, reason) {
        const conn = ws.data.connection();
        if (conn !== undefined) service.closed(conn as Connection<A>, code, reason);
      },
      drain(ws) {
        const conn = ws.data.connection();
        if (conn !== undefined) service.drain(conn as Connection<A>);
      },
      // Bun's own idle check (protocol pings) is only a safety net behind the heartbeat (heartbeat.ts).
      idleTimeout: runtimeIdleTimeout(heartbeat),
      sendPings: true,
      // Frames a bit over our limit still reach the core, which answers PAYLOAD_TOO_LARGE; far over, Bun closes 1009.
      maxPayloadLength: limits.maxFrameBytes * OVERSIZE_CLOSE_FACTOR,
      // The core applies slow-consumer policies past maxBufferedBytes (flow-control.ts); this hard cap at twice that
      // is a safety net: a socket past it is closed rather than silently skipped by native publish.
      backpressureLimit: maxBufferedBytes * 2,
      closeOnBackpressureLimit: true,
      perMessageDeflate: false,
    },
  });
  /** What a routed request gets: its response, the app's, or the upgrade. */
  function answer(route: Route<A>, request: Request, srv: BunServer, ip: string): Response | undefined | Promise<Response | undefined> {
    if (route.kind === "response") {
      // An HTTP fallback stream is quiet between heartbeats: Bun's 10 s idle cut would end it.
      if (route.stream) srv.timeout(request, 0);
      return route.response;
    }
    if (route.kind === "pass") return options.fetch?.(request) ?? new Response("Not found", { status: 404 });
    const data = new BunSocketAdapter({ upgrade: route, ip });
    // Bun does not pick a subprotocol itself: echo ours or browsers fail the handshake.
    if (srv.upgrade(request, { data, headers: { "sec-websocket-protocol": SUBPROTOCOL } })) return undefined;
    return new Response("WebSocket upgrade failed", { status: 400 });
  }
  // Bun's publish answers -1 (some subscriber buffering) or 0 (dropped somewhere) when one is backed up.
  service.useNativePublish((channel, frame) => server.publish(channel, oneMessage(frame)) > 0);
  return {
    port: server.port,
    url: `ws://${hostname}:${server.port}${service.options.paths[0]}`,
    async stop(retryAfterMs) {
      await service.close(retryAfterMs);
      // Bun reports a socket closed inside ws.close(), before its close frame is written: it flushes
      // writes when the event loop turns. stop(true) in the same turn reset sockets with their close
      // frames unsent (clients saw TCP end without one): let the loop turn, and linger a little.
      await new Promise((r) => setTimeout(r, CLOSE_LINGER));
      await server.stop(true);
    },
  };
}
