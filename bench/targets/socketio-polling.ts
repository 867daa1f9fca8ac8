/**
 * Socket.IO v4 under test with its HTTP long-polling transport only (`transports: ["polling"]`,
 * `socketio-server.ts`), on Node or Bun: the peer of Tether's HTTP fallback.
 * run.ts compiles this file to JavaScript first, because Node 20 does not run TypeScript.
 * @module
 */
import { serveSocketIo } from "./socketio-server.ts";

serveSocketIo("polling");
