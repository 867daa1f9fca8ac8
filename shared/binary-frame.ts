/**
 * The binary frame (PROTOCOL.md section 1.1): one WebSocket binary message carrying a frame's JSON
 * text and the bytes of the binary values its payloads reference, so they travel without base64.
 * Also the base64 text form binary values take where only text can go (HTTP fallback, Redis).
 * @module
 */

/** A frame as it goes on the wire: JSON text, a binary frame built by {@link packFrame}, or one sent split ({@link SplitFrame}). */
export type WireFrame = string | Uint8Array<ArrayBuffer> | SplitFrame;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The bit of a binary frame's first length that marks the head of a split frame (PROTOCOL.md section 1.1). */
const SPLIT = 0x80000000;

/** Where an attachment's bytes start after its length at `at`: the next multiple of 8, so any typed array can view them in place. */
const dataStart = (at: number) => (at + 4 + 7) & ~7;

/**
 * A binary frame sent split (PROTOCOL.md section 1.1): a head message holding the JSON text and the
 * attachments' lengths, then each attachment as a WebSocket binary message of its own, sent right
 * after it. The attachments are the values' own bytes, not copies: a large value costs no copy into
 * a joined frame (bench/binary-echo.ts).
 */
export class SplitFrame {
  /**
   * The head message: a 4-byte big-endian length of the UTF-8 JSON text with its top bit set, the
   * text, the number of attachments and each one's length (4 bytes each, big-endian).
   */
  readonly head: Uint8Array<ArrayBuffer>;

  /**
   * @param text the frame's JSON, whose binary values are attachment indexes
   * @param attachments the bytes of those values, in index order
   */
  constructor(readonly text: string, readonly attachments: readonly Uint8Array<ArrayBuffer>[]) {
    const json = encoder.encode(text);
    this.head = new Uint8Array(8 + json.length + 4 * attachments.length);
    const view = new DataView(this.head.buffer);
    view.setUint32(0, (SPLIT | json.length) >>> 0);
    this.head.set(json, 4);
    let at = 4 + json.length;
    view.setUint32(at, attachments.length);
    for (const bytes of attachments) view.setUint32((at += 4), bytes.length);
  }

  /** Its WebSocket messages in the order they go out: the head, then each attachment. */
  get messages(): Uint8Array<ArrayBuffer>[] {
    return [this.head, ...this.attachments];
  }

  /** Bytes of all its messages, as a frame's size is counted (outbox limits). */
  get length(): number {
    let n = this.head.length;
    for (const bytes of this.attachments) n += bytes.length;
    return n;
  }

  /** The same frame as one binary message ({@link packFrame}): a copy, for where it must be one message or must not change later. */
  packed(): Uint8Array<ArrayBuffer> {
    return packFrame(this.text, this.attachments);
  }
}

/** A frame as one WebSocket message at most: a split frame joined ({@link SplitFrame.packed}), any other as it is. */
export function oneMessage(frame: WireFrame): string | Uint8Array<ArrayBuffer> {
  return frame instanceof SplitFrame ? frame.packed() : frame;
}

/** Attachments of at least this many bytes in all make a frame go split: below it, one message costs less than several. */
const SPLIT_BYTES = 64 * 1024;

/**
 * Most attachments a split frame may have: its messages after the head take no rate-limit token
 * (the frame took one), so their number is bounded. A frame with more goes as one message.
 */
export const MAX_SPLIT_ATTACHMENTS = 64;

/**
 * Whether a frame's attachments are worth sending split ({@link SplitFrame}): {@link SPLIT_BYTES} in
 * all, each on a plain ArrayBuffer (a view on a SharedArrayBuffer cannot be sent as it is).
 */
export function splittable(attachments: readonly Uint8Array[]): attachments is Uint8Array<ArrayBuffer>[] {
  if (attachments.length > MAX_SPLIT_ATTACHMENTS) return false;
  let bytes = 0;
  for (const attachment of attachments) {
    if (!(attachment.buffer instanceof ArrayBuffer)) return false;
    bytes += attachment.length;
  }
  return bytes >= SPLIT_BYTES;
}

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

/**
 * The attachment lengths a split frame's head announces, read without its text; undefined for a
 * frame that is not a split frame's head, or whose lengths do not add up, or that announces more
 * than {@link MAX_SPLIT_ATTACHMENTS}.
 */
export function followingOf(frame: Uint8Array): number[] | undefined {
  if (frame.length < 4) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const first = view.getUint32(0);
  if (!(first & SPLIT)) return undefined;
  const end = 4 + (first & ~SPLIT);
  if (end + 4 > frame.length || frame.length !== end + 4 + 4 * view.getUint32(end)) return undefined;
  if (view.getUint32(end) > MAX_SPLIT_ATTACHMENTS) return undefined;
  const following: number[] = [];
  for (let at = end + 4; at < frame.length; at += 4) following.push(view.getUint32(at));
  return following;
}

/** A binary frame taken apart: its JSON text and its attachments (views into the frame, no copies). */
export interface UnpackedFrame {
  /** The frame's JSON text. */
  text: string;
  /** The attachments, in index order; empty for a split frame's head, whose attachments follow it. */
  attachments: Uint8Array[];
  /** For a split frame's head: the lengths of the attachments that follow it as messages of their own. */
  following?: number[];
}

/**
 * Takes a binary frame (or a split frame's head) apart; undefined when its lengths do not add up to
 * exactly its size or its text is not UTF-8 (the caller answers BAD_REQUEST).
 */
export function unpackFrame(frame: Uint8Array): UnpackedFrame | undefined {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 4) return undefined;
  const first = view.getUint32(0);
  const end = 4 + (first & ~SPLIT);
  if (end > frame.length) return undefined;
  let text: string;
  try {
    text = decoder.decode(frame.subarray(4, end));
  } catch {
    return undefined;
  }
  const attachments: Uint8Array[] = [];
  if (first & SPLIT) {
    const following = followingOf(frame);
    return following === undefined ? undefined : { text, attachments, following };
  }
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
 * (a split one joined first) as a JSON string holding its base64 (PROTOCOL.md section 11).
 */
export function toLine(frame: WireFrame): string {
  const message = oneMessage(frame);
  return typeof message === "string" ? message : `"${toBase64(message)}"`;
}

/** The frame one HTTP fallback line carries; a quoted line that is not base64 gives an empty binary frame, which is malformed. */
export function fromLine(line: string): string | Uint8Array<ArrayBuffer> {
  if (!line.startsWith('"')) return line;
  try {
    return fromBase64(JSON.parse(line));
  } catch {
    return new Uint8Array(0);
  }
}
