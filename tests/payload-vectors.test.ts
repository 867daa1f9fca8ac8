/**
 * The payload test vectors (conformance/payloads.json, PROTOCOL.md section 2) against the codec both
 * ways, and through a real server on this runtime: what another-language client replays.
 * @module
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decode, encode, encodeText, type Payload, readingFrame } from "../shared/codec.ts";
import { metaProblem } from "../shared/safe-decode.ts";
import { createConformanceService } from "../conformance/service.ts";
import type { RunningServer } from "../server/mod.ts";
import { fromNotation, type Notation } from "./fixtures/value-notation.ts";
import { openRaw, type RawSocket } from "./fixtures/raw-socket.ts";
import { RUNTIME, serve } from "./fixtures/serve.ts";

interface Vectors {
  encode: { name: string; value: Notation; wire: Payload }[];
  decodeOnly: { name: string; value: Notation; wire: Payload }[];
  refused: { name: string; wire: Payload }[];
}

const vectors: Vectors = JSON.parse(readFileSync(new URL("../conformance/payloads.json", import.meta.url), "utf8"));

/** Whether a payload's meta passes the server's checks (plain payloads always do). */
const accepted = (wire: Payload) => wire.meta === undefined || metaProblem(wire.meta, wire.json) === undefined;

describe(`payload vectors on ${RUNTIME}`, () => {
  it("the file holds every kind of vector", () => {
    assert.ok(vectors.encode.length >= 30 && vectors.decodeOnly.length >= 5 && vectors.refused.length >= 30);
  });

  it("encode: each value encodes to exactly its wire payload, as an object and as text", () => {
    for (const { name, value, wire } of vectors.encode) {
      const js = fromNotation(value);
      assert.deepStrictEqual(encode(js), wire, name);
      assert.equal(encodeText(js), JSON.stringify(wire), name);
    }
  });

  it("encode: each wire payload passes the server's checks and decodes to its value", () => {
    for (const { name, value, wire } of vectors.encode) {
      assert.ok(accepted(wire), `${name}: ${wire.meta === undefined ? "" : metaProblem(wire.meta, wire.json)}`);
      assert.deepStrictEqual(decode(structuredClone(wire)), fromNotation(value), name);
    }
  });

  it("decodeOnly: each non-canonical wire payload is accepted and decodes to its value", () => {
    for (const { name, value, wire } of vectors.decodeOnly) {
      assert.ok(accepted(wire), name);
      assert.deepStrictEqual(decode(structuredClone(wire)), fromNotation(value), name);
    }
  });

  it("refused: each wire payload fails the server's checks", () => {
    for (const { name, wire } of vectors.refused) assert.ok(!accepted(wire), name);
  });

  describe("through a real server", () => {
    let server: RunningServer;
    let raw: RawSocket;
    before(async () => {
      server = await serve(createConformanceService());
      raw = await openRaw(server.url);
    });
    after(async () => {
      await raw.close();
      await server.stop();
    });

    /**
     * Calls `echo` with a wire payload as input and returns the answer frame. A binary answer (its
     * values as attachments, PROTOCOL.md section 1.1) is given back in text form, binary as base64.
     */
    const echo = async (id: number, input: Payload) => {
      raw.send({ type: "call", id, method: "echo", input });
      const { $attachments, ...answer } = await raw.next((f) => f.id === id);
      if ($attachments !== undefined) answer.output = encode(readingFrame($attachments, () => decode(answer.output)));
      return answer;
    };

    it("echo returns each encode vector's wire payload unchanged, and each decodeOnly vector in canonical form", async () => {
      let id = 0;
      for (const { name, wire } of vectors.encode) assert.deepStrictEqual(await echo(++id, wire), { type: "result", id, output: wire }, name);
      for (const { name, value, wire } of vectors.decodeOnly) {
        assert.deepStrictEqual(await echo(++id, wire), { type: "result", id, output: encode(fromNotation(value)) }, name);
      }
    });

    it("each refused vector is answered BAD_REQUEST with the call's id, and the connection keeps serving", async () => {
      let id = 1000;
      for (const { name, wire } of vectors.refused) {
        const answer = await echo(++id, wire);
        assert.deepStrictEqual([answer.type, answer.code, answer.id], ["error", "BAD_REQUEST", id], `${name}: ${JSON.stringify(answer)}`);
      }
      assert.equal((await echo(++id, { json: 1 })).type, "result");
    });
  });
});
