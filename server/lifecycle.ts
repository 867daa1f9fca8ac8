/**
 * The connection lifecycle: what happens when a socket opens (refused by authentication, over the
 * per-address limit, or registered: hello frame, heartbeat, `onConnect`) and when it closes (calls
 * aborted, `onDisconnect`, subscriptions, presence and rooms released).
 * @module
 */
import type { ContractTree } from "../shared/contract.ts";
import { RpcError } from "../shared/errors.ts";
import { CloseCode, type HelloFrame, PROTOCOL_VERSION } from "../shared/protocol.ts";
import { Connection, type ConnectionShared } from "./connection.ts";
import { fitReason, type Socket } from "./socket.ts";
import { CallContext } from "./context.ts";
import type { Core } from "./core.ts";
import { simpleErrorFrame } from "./error-frame.ts";
import type { Heartbeat } from "./heartbeat.ts";
import type { FlowControl } from "./flow-control.ts";
import { unsubscribeAll } from "./subscriptions.ts";

/** Stands for the connection id in the hello frame serialized once (lifecycle's constructor). */
const ID_MARK = "\u0000connection id\u0000";

/** What the lifecycle works on: the service's state, its live connections and the parts a connection joins. */
export interface LifecycleParts<A> {
  core: Core<A>;
  /** Live connections by id: a connection enters when it opens and leaves when its close is reported. */
  connections: Map<string, Connection<A>>;
  flow: FlowControl;
  heartbeat: Heartbeat<A>;
  /** The token bucket every connection shares (a per-connection copy costs memory on idle sockets). */
  rate: { perSecond: number; burst: number };
}

/** Opens and releases connections: the adapters' open and close events, through the service. */
export class ConnectionLifecycle<A> {
  /** Open sockets per peer address, for `maxConnectionsPerIp`. */
  private readonly perIp = new Map<string, number>();
  /** The hello frame around the connection id: the same for every connection, serialized once. */
  private readonly helloParts: readonly [string, string];

  /** What all its connections share: one object instead of three fields on each. */
  private readonly shared: ConnectionShared;

  constructor(private readonly parts: LifecycleParts<A>) {
    this.shared = { rate: parts.rate, flow: parts.flow, clientCalls: parts.core.clientCalls };
    const { heartbeat, limits } = parts.core.options;
    const text = JSON.stringify({ type: "hello", version: PROTOCOL_VERSION, connectionId: ID_MARK, heartbeat, limits } satisfies HelloFrame);
    const at = text.indexOf(JSON.stringify(ID_MARK));
    this.helloParts = [text.slice(0, at + 1), text.slice(at + JSON.stringify(ID_MARK).length - 1)];
  }

  /**
   * A socket opened: registers its connection and sends the hello frame. With `refused`
   * (authentication failed on a tether.v1 upgrade) it sends that error instead and closes with 4401 / 4403.
   */
  open(socket: Socket, auth: A, ip: string, refused?: RpcError): Connection<A> {
    const { core, connections, heartbeat } = this.parts;
    const { metrics, logger, options } = core;
    const conn = new Connection<A>(socket, auth, ip, this.shared);
    if (refused !== undefined) {
      // Never registered and never dispatched to (receive ignores closed connections): only the error and the close go out.
      const code = refused.code === "FORBIDDEN" ? CloseCode.FORBIDDEN : CloseCode.UNAUTHORIZED;
      conn.closed.abort(refused);
      socket.send(simpleErrorFrame(null, refused.code, refused.message));
      socket.close(code, fitReason(refused.message));
      metrics.close(code);
      logger.debug("connection refused", { ip, code });
      return conn;
    }
    const fromIp = (this.perIp.get(ip) ?? 0) + 1;
    if (fromIp > options.maxConnectionsPerIp) {
      // Never registered: Bun may fire its close event before open() returns, so nothing waits for it.
      conn.closed.abort(new RpcError("DISCONNECTED", "Too many connections from this address"));
      socket.close(CloseCode.TRY_AGAIN_LATER, "retry=5000; too many connections from this address");
      metrics.close(CloseCode.TRY_AGAIN_LATER);
      return conn;
    }
    this.perIp.set(ip, fromIp);
    connections.set(conn.id, conn);
    metrics.connectionsOpened++;
    heartbeat.watch(conn);
    conn.send(this.hello(conn));
    logger.debug("connection opened", { connection: conn.id, ip });
    try {
      options.onConnect?.(this.contextOf(conn));
    } catch (error) {
      logger.warn("onConnect failed", { connection: conn.id, error: String(error) });
    }
    return conn;
  }

  /** A socket closed (with `code` and `reason`, when the runtime reports them): releases everything the connection held, once. */
  closed(conn: Connection<A>, code?: number, reason?: string): void {
    const { core, connections, flow, heartbeat } = this.parts;
    const { metrics, logger, options } = core;
    if (!connections.delete(conn.id)) return;
    const fromIp = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (fromIp > 0) this.perIp.set(conn.ip, fromIp);
    else this.perIp.delete(conn.ip);
    // The server's own code and reason when it closed the socket: the runtime may report the peer's echo, or nothing.
    // 1005 is the standard "no status received" code: the runtime did not say.
    const close = conn.closedWith ?? { code: code ?? 1005, reason: reason ?? "" };
    metrics.close(close.code);
    if (conn.outbox !== null) flow.release(conn as Connection);
    logger.debug("connection closed", { connection: conn.id, ...close });
    // One reason for the connection and its calls; reading `conn.closed.signal` would create the lazy controller.
    const gone = new RpcError("DISCONNECTED", "Connection closed");
    conn.closed.abort(gone);
    conn.abortCalls(gone);
    try {
      options.onDisconnect?.(this.contextOf(conn), close);
    } catch (error) {
      logger.warn("onDisconnect failed", { connection: conn.id, error: String(error) });
    }
    unsubscribeAll(core, conn);
    core.rooms.leaveAll(conn);
    if (connections.size === 0) heartbeat.stop();
  }

  /** The hello frame: protocol version, connection id (a UUID: nothing to escape), heartbeat timing and limits. */
  private hello(conn: Connection<A>): string {
    return this.helloParts[0] + conn.id + this.helloParts[1];
  }

  /** The context lifecycle hooks get: the connection's id, auth, rooms and publishing; its signal is the connection's. */
  private contextOf(conn: Connection<A>): CallContext<ContractTree, A> {
    const { rooms, publisher } = this.parts.core;
    return new CallContext<ContractTree, A>(conn, rooms, publisher, conn.closed);
  }
}
