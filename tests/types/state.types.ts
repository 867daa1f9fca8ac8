/**
 * Type tests of the client's state events: checked by `deno check tests/` and `tsc -p .` in CI,
 * never run. Every `@ts-expect-error` marks a misuse the compiler must reject.
 * @module
 */
import * as v from "valibot";
import { type ConnectionState, createClient, type StateChange, type TransportKind } from "../../client/mod.ts";
import { httpFallback, type TransportKind as FallbackTransportKind } from "../../client/http.ts";
import { defineContract, procedure } from "../../server/mod.ts";

const contract = defineContract({ echo: procedure({ input: v.string(), output: v.string() }) });
const client = createClient<typeof contract>("ws://localhost:8080/ws", { WebSocket: httpFallback().WebSocket });

client.on("state", (state: ConnectionState, change: StateChange) => {
  // On "open" the transport is named when the socket names it (the HTTP fallback's); undefined otherwise.
  const transport: TransportKind | undefined = change.transport;
  if (state === "open" && transport === "http") console.log("on the HTTP fallback");
  if (transport === "websocket") console.log("on a WebSocket");
  // @ts-expect-error a plain WebSocket names no transport: it may be undefined
  const named: TransportKind = change.transport;
  // @ts-expect-error no such transport
  if (change.transport === "sse") console.log(named);
});

// The fallback's transport type is the client's.
const fromFallback: FallbackTransportKind = "http" as TransportKind;
const fromClient: TransportKind = fromFallback;
// @ts-expect-error not a transport
const polling: TransportKind = "polling";
// @ts-expect-error the change's transport is a TransportKind, not any string
const wrong: StateChange = { reason: "connected", transport: "sse" };
export { fromClient, polling, wrong };
