/**
 * The context object handlers and hooks receive: who is calling, an abort signal, rooms, publishing.
 * @module
 */
import { RpcError } from "../shared/errors.ts";
import type { Connection } from "./connection.ts";
import type { Context, Publisher } from "./handlers.ts";
import type { Target } from "./target.ts";
import type { RoomRegistry } from "./rooms.ts";

/** A handler's view of its connection; one per call or subscription. */
export class CallContext<C, A> implements Context<C, A> {
  constructor(
    private readonly conn: Connection<A>,
    private readonly roomRegistry: RoomRegistry,
    private readonly publisher: Publisher<C>,
    // A LazyAbort (the call's or the connection's): its signal is only created when a handler reads it.
    private readonly aborts: { readonly signal: AbortSignal },
  ) {}

  /** Aborted when the call is cancelled or times out, or the connection closes. */
  get signal(): AbortSignal {
    return this.aborts.signal;
  }

  /** The connection's id. */
  get connectionId(): string {
    return this.conn.id;
  }

  /** The connection's authentication result. */
  get auth(): A {
    return this.conn.auth;
  }

  /** Adds the connection to a room. */
  join(room: string): void {
    this.roomRegistry.join(this.conn as Connection, room);
  }

  /** Removes the connection from a room. */
  leave(room: string): void {
    this.roomRegistry.leave(this.conn as Connection, room);
  }

  /** The procedures of the contract's `client` section, called on this connection (`ctx.client.confirm(input)`). */
  get client(): never {
    if (this.conn.clientCalls === undefined) throw new TypeError("Cannot call the client: the connection is not served by a service");
    return this.conn.clientCalls.caller(this.conn.id) as never;
  }

  /** The rooms the connection is in. */
  rooms(): ReadonlySet<string> {
    return this.conn.rooms;
  }

  /** An RpcError to throw; a procedure's handler sees it typed by the codes it declares (see ProcedureContext). */
  error(code: string, message: string, data: unknown): RpcError<unknown, string> {
    return new RpcError(code, message, data);
  }

  /** Publishes through the service (see {@link Publisher.publish}). */
  publish(topic: never, params: never, message: never, target?: Target): Promise<void> {
    return this.publisher.publish(topic, params, message, target);
  }

  /** Publishes to every subscriber but this connection; `volatile` drops rather than queues. */
  broadcast(topic: never, params: never, message: never, options?: { volatile?: boolean }): Promise<void> {
    const target = options?.volatile === true ? { except: this.conn.id, volatile: true } : { except: this.conn.id };
    return this.publisher.publish(topic, params, message, target);
  }
}
