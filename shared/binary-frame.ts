/**
 * The binary frame (PROTOCOL.md section 1.1): one WebSocket binary message carrying a frame's JSON
 * text and the bytes of the binary values its payloads reference, so they travel without base64.
 * Also the base64 text form binary values take where only text can go (HTTP fallback, Redis).
 * @module
 */

/** A frame as it goes on the wire: JSON text, or a binary frame built by {@link packFrame}. */
export type WireFrame = string | Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Where an attachment's bytes start after its length at `at`: the next multiple of 8, so any typed array can view them in place. */
const dataStart = (at: number) => (at + 4 + 7) & ~7;

/**
 * Lays a frame out as one binary message: a 4-byte big-endian length of the UTF-8 JSON text, the
 * text, then each attachment as a 4-byte big-endian length, zero padding up to a multiple of 8 from
 * the frame's start, and its bytes.
 * @param text the frame's JSON, whose binary values are attachment indexes
 * @param attachments the bytes of those values, in index order
 */
export function packFrame(text: string, attachments: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(text);
  let size = 4 + head.length;
  for (const bytes of attachments) size = dataStart(size) + bytes.length;
  const frame = new Uint8Array(size);
  const view = new DataView(frame.buffer);
  view.setUint32(0, head.length);
  frame.set(head, 4);
  let at = 4 + head.length;
  for (const bytes of attachments) {
    view.setUint32(at, bytes.length);
    at = dataStart(at);
    frame.set(bytes, at);
    at += bytes.length;
  }
  return frame;
}

/** A binary frame taken apart: its JSON text and its attachments (views into the frame, no copies). */
export interface UnpackedFrame {
  /** The frame's JSON text. */
  text: string;
  /** The attachments, in index order. */
  attachments: Uint8Array[];
}

/**
 * Takes a binary frame apart; undefined when its lengths do not add up to exactly its size or its
 * text is not UTF-8 (the caller answers BAD_REQUEST).
 */
export function unpackFrame(frame: Uint8Array): UnpackedFrame | undefined {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 4) return undefined;
  const end = 4 + view.getUint32(0);
  if (end > frame.length) return undefined;
  let text: string;
  try {
    text = decoder.decode(frame.subarray(4, end));
  } catch {
    return undefined;
  }
  const attachments: Uint8Array[] = [];
  for (let at = end; at < frame.length;) {
    if (at + 4 > frame.length) return undefined;
    const start = dataStart(at);
    const next = start + view.getUint32(at);
    if (next > frame.length) return undefined;
    // A plain Uint8Array view whatever the frame's class (Bun hands out Buffers, whose slice() does not copy).
    attachments.push(new Uint8Array(frame.buffer, frame.byteOffset + start, next - start));
    at = next;
  }
  return { text, attachments };
}

/** Bytes as standard base64 (with padding), the text form of a binary value. */
export function toBase64(bytes: Uint8Array): string {
  let text = "";
  // Chunks keep String.fromCharCode's argument list short.
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** The bytes of standard base64 text. @throws {DOMException} when it is not base64 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const chars = atob(text);
  const bytes = new Uint8Array(chars.length);
  for (let i = 0; i < chars.length; i++) bytes[i] = chars.charCodeAt(i);
  return bytes;
}

/**
 * A frame as one line of the HTTP fallback (which carries text): JSON text as it is, a binary frame
 * as a JSON string holding its base64 (PROTOCOL.md section 9).
 */
export function toLine(frame: WireFrame): string {
  return typeof frame === "string" ? frame : `"${toBase64(frame)}"`;
}

/** The frame one HTTP fallback line carries; a quoted line that is not base64 gives an empty binary frame, which is malformed. */
export function fromLine(line: string): WireFrame {
  if (!line.startsWith('"')) return line;
  try {
    return fromBase64(JSON.parse(line));
  } catch {
    return new Uint8Array(0);
  }
}
