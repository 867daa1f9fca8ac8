/**
 * How the load generator speaks to each kind of target: the frames it sends and cheap string tests
 * on the frames it receives (no JSON.parse on the hot path, so the generator costs the same per
 * frame whatever the target). Socket.IO and tRPC are spoken as raw frames of their wire protocols.
 * @module
 */
import { HttpSocket } from "../../client/http-socket.ts";
import { LATENCY_EVERY } from "../../client/liveness.ts";
import { PollingSocket } from "./polling-socket.ts";

/** The wire protocol a target speaks. */
export type DriverName = "tether" | "tether-http" | "raw" | "raw-beat" | "socketio" | "socketio-polling" | "trpc";

/** The call payload every target echoes. */
export const PAYLOAD = { text: "hello, benchmark", n: 42, ok: true };
const PAYLOAD_JSON = JSON.stringify(PAYLOAD);
const TEXT = JSON.stringify("a fan-out message of about sixty bytes, the size of a chat line");

/** One protocol, as the scenarios use it. */
export interface Driver {
  /** The socket URL on a port. */
  url(port: number): string;
  /** The subprotocol to offer, if any. */
  protocol: string | undefined;
  /** Opens the connection when it is not a WebSocket (the HTTP transports); a WebSocket otherwise. */
  open?: (url: string, protocol: string | undefined) => WebSocket;
  /** Whether this frame ends the handshake (the connection is usable after it). */
  ready(frame: string, open: boolean): boolean;
  /** A call of the echo procedure with this request id. */
  call(id: number): string;
  /** Whether a frame is the successful answer to a call. */
  isReply(frame: string): boolean;
  /** A frame subscribing to the `feed` topic. */
  subscribe(id: number): string;
  /** Whether a frame confirms a subscription. */
  isSubscribed(frame: string): boolean;
  /** A frame that makes the server publish message `seq` to every `feed` subscriber. */
  publish(id: number, seq: number): string;
  /**
   * Frames of a subscriber that sends message `seq` to every other `feed` subscriber: a client
   * `publish` frame, or a call of a procedure that broadcasts it (`ctx.broadcast`). Tether only.
   */
  allButSender?: { client(id: number, seq: number): string; broadcast(id: number, seq: number): string };
  /** Handles a control frame (answers a protocol ping, takes a heartbeat) and returns true, or returns false for others. */
  control(frame: string, send: (frame: string) => void): boolean;
  /**
   * The frame the protocol's own client sends on its `tick`th heartbeat interval (counting from 0),
   * exactly as it does (Tether: client/liveness.ts); absent where its client sends none unasked.
   */
  beat?(tick: number): string;
}

const message = (seq: number) => `{"seq":${seq},"text":${TEXT}}`;

/** Tether's client's heartbeat frame on its `tick`th interval: a latency `ping` every `LATENCY_EVERY`th, else a beat. */
function tetherBeat(tick: number): string {
  return tick % LATENCY_EVERY === 0 ? `{"type":"ping","ts":${Date.now()}}` : '{"type":"pong"}';
}

const tether: Driver = {
  url: (port) => `ws://127.0.0.1:${port}/ws`,
  protocol: "tether.v1",
  ready: (frame) => frame.startsWith('{"type":"hello"'),
  call: (id) => `{"type":"call","id":${id},"method":"echo","input":{"json":${PAYLOAD_JSON}}}`,
  isReply: (frame) => frame.startsWith('{"type":"result"'),
  subscribe: (id) => `{"type":"subscribe","id":${id},"topic":"feed"}`,
  isSubscribed: (frame) => frame.startsWith('{"type":"subscribed"'),
  publish: (id, seq) => `{"type":"call","id":${id},"method":"pub","input":{"json":${message(seq)}}}`,
  allButSender: {
    client: (id, seq) => `{"type":"publish","id":${id},"topic":"feed","data":{"json":${message(seq)}}}`,
    broadcast: (id, seq) => `{"type":"call","id":${id},"method":"shout","input":{"json":${message(seq)}}}`,
  },
  control(frame, send) {
    // The server's beat and the answers to our pings: a Tether client only notes them.
    if (frame.startsWith('{"type":"pong"')) return true;
    if (!frame.startsWith('{"type":"ping"')) return false;
    send('{"type":"pong"}');
    return true;
  },
  beat: tetherBeat,
};

const raw: Driver = {
  url: (port) => `ws://127.0.0.1:${port}/`,
  protocol: undefined,
  ready: (_frame, open) => open,
  call: (id) => `{"id":${id},"input":${PAYLOAD_JSON}}`,
  isReply: (frame) => frame.startsWith('{"id":'),
  subscribe: () => `{"sub":"feed"}`,
  isSubscribed: (frame) => frame.startsWith('{"subscribed"'),
  publish: (_id, seq) => `{"pub":${message(seq)}}`,
  control: () => false,
};

// The raw echo with Tether's heartbeat frames (targets/raw-bun-beat.ts): beats, pings and pongs as Tether's.
const rawBeat: Driver = { ...raw, control: tether.control, beat: tetherBeat };

// Engine.IO v4 packet types: 0 open, 2 ping, 3 pong, 4 message; Socket.IO: 0 connect, 2 event, 3 ack.
const socketio: Driver = {
  url: (port) => `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
  protocol: undefined,
  ready: (frame) => frame.startsWith("40"),
  call: (id) => `42${id}["echo",${PAYLOAD_JSON}]`,
  isReply: (frame) => frame.startsWith("43"),
  subscribe: (id) => `42${id}["sub"]`,
  isSubscribed: (frame) => frame.startsWith("43"),
  publish: (_id, seq) => `42["pub",${message(seq)}]`,
  control(frame, send) {
    if (frame === "2") send("3");
    if (frame.startsWith("0{")) send("40");
    return frame === "2" || frame.startsWith("0{");
  },
};

// Tether's HTTP fallback: the same frames over the client's own HttpSocket (stream + POSTs).
const tetherHttp: Driver = { ...tether, open: (url, protocol) => new HttpSocket(url, protocol!) as unknown as WebSocket };

// Socket.IO's long-polling transport: the same packets over Engine.IO polling requests.
const socketioPolling: Driver = {
  ...socketio,
  url: (port) => `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`,
  open: (url) => new PollingSocket(url) as unknown as WebSocket,
};

const trpc: Driver = {
  url: (port) => `ws://127.0.0.1:${port}/`,
  protocol: undefined,
  ready: (_frame, open) => open,
  call: (id) => `{"id":${id},"method":"query","params":{"path":"echo","input":{"json":${PAYLOAD_JSON}}}}`,
  isReply: (frame) => frame.includes('"result":{"type":"data"'),
  subscribe: (id) => `{"id":${id},"method":"subscription","params":{"path":"feed","input":{"json":null}}}`,
  isSubscribed: (frame) => frame.includes('"result":{"type":"started"'),
  publish: (id, seq) => `{"id":${id},"method":"mutation","params":{"path":"pub","input":{"json":${message(seq)}}}}`,
  control: () => false,
};

/** Every driver by name. */
export const DRIVERS: Record<DriverName, Driver> = { tether, "tether-http": tetherHttp, raw, "raw-beat": rawBeat, socketio, "socketio-polling": socketioPolling, trpc };

/** The `seq` of a fan-out message frame, or -1 when the frame carries none. */
export function seqOf(frame: string): number {
  const at = frame.indexOf('"seq":');
  if (at < 0) return -1;
  let seq = 0;
  for (let i = at + 6; i < frame.length; i++) {
    const c = frame.charCodeAt(i);
    if (c < 48 || c > 57) break;
    seq = seq * 10 + c - 48;
  }
  return seq;
}
