/**
 * Socket.IO v4 under test with the websocket transport only (`socketio-server.ts`), on Node or Bun.
 * run.ts compiles this file to JavaScript first, because Node 20 does not run TypeScript.
 * @module
 */
import { serveSocketIo } from "./socketio-server.ts";

serveSocketIo("websocket");
