/**
 * Test-side frame building and reading, written independently of src/ so that a bug in our
 * encoder or parser cannot hide itself by appearing on both sides of a test.
 * @module
 */

/** Opcodes, spelled out again on purpose (see the module comment). */
export const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** Options for {@link clientFrame}. */
export interface FrameSpec {
  fin?: boolean;
  rsv?: number; // 0..7 → RSV1..3 bits
  mask?: boolean | Uint8Array; // default true (clients mask); false sends an unmasked frame
  /** Force a length encoding (7, 16 or 64 bits) regardless of the payload size. */
  lengthBits?: 7 | 16 | 64;
}

const enc = new TextEncoder();

/** Bytes from a string (UTF-8), hex ("hex:ce ba"), or bytes. */
export function bytes(data: string | Uint8Array | number[]): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (Array.isArray(data)) return Uint8Array.from(data);
  if (data.startsWith("hex:")) {
    const hex = data.slice(4).replace(/\s+/g, "");
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  return enc.encode(data);
}

/** A frame as a client sends it (masked by default). */
export function clientFrame(
  opcode: number,
  payload: string | Uint8Array | number[] = new Uint8Array(0),
  spec: FrameSpec = {},
): Uint8Array {
  const body = bytes(payload);
  const fin = spec.fin ?? true;
  const mask = spec.mask === false
    ? null
    : spec.mask instanceof Uint8Array
    ? spec.mask
    : Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);
  const bits = spec.lengthBits ?? (body.length < 126 ? 7 : body.length < 65536 ? 16 : 64);
  const header: number[] = [(fin ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (bits === 7) header.push(maskBit | body.length);
  else if (bits === 16) header.push(maskBit | 126, body.length >> 8, body.length & 255);
  else {
    header.push(maskBit | 127);
    const high = Math.floor(body.length / 2 ** 32);
    const low = body.length >>> 0;
    header.push(high >>> 24, (high >>> 16) & 255, (high >>> 8) & 255, high & 255);
    header.push(low >>> 24, (low >>> 16) & 255, (low >>> 8) & 255, low & 255);
  }
  if (mask) header.push(...mask);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  for (let i = 0; i < body.length; i++) {
    out[header.length + i] = mask ? body[i] ^ mask[i % 4] : body[i];
  }
  return out;
}

/** A frame as a server sends it: unmasked unless `spec.mask` says otherwise. */
export function serverFrame(
  opcode: number,
  payload: string | Uint8Array | number[] = new Uint8Array(0),
  spec: FrameSpec = {},
): Uint8Array {
  return clientFrame(opcode, payload, { ...spec, mask: spec.mask ?? false });
}

/** A close frame payload: code + reason. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const r = enc.encode(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 255;
  out.set(r, 2);
  return out;
}

/** A frame as read back from the server. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Reads one complete frame at `at`; null when `buf` does not hold all of it yet. */
export function readFrame(buf: Uint8Array, at = 0): { frame: ServerFrame; end: number } | null {
  if (buf.length - at < 2) return null;
  const b0 = buf[at];
  const b1 = buf[at + 1];
  let len = b1 & 127;
  let pos = at + 2;
  if (len === 126) {
    if (buf.length - pos < 2) return null;
    len = (buf[pos] << 8) | buf[pos + 1];
    pos += 2;
  } else if (len === 127) {
    if (buf.length - pos < 8) return null;
    len = 0;
    for (let i = 0; i < 8; i++) len = len * 256 + buf[pos + i];
    pos += 8;
  }
  const masked = (b1 & 0x80) !== 0;
  let mask: Uint8Array | null = null;
  if (masked) {
    if (buf.length - pos < 4) return null;
    mask = buf.slice(pos, pos + 4);
    pos += 4;
  }
  if (buf.length - pos < len) return null;
  const payload = buf.slice(pos, pos + len);
  if (mask) { for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4]; }
  const frame = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 15, masked, payload };
  return { frame, end: pos + len };
}

/** Reads every complete frame from the start of `buf`; returns them and how many bytes they used. */
export function readFrames(buf: Uint8Array): { frames: ServerFrame[]; used: number } {
  const frames: ServerFrame[] = [];
  let at = 0;
  for (let next = readFrame(buf, 0); next !== null; next = readFrame(buf, at)) {
    frames.push(next.frame);
    at = next.end;
  }
  return { frames, used: at };
}

/** The code in a close frame's payload, or 1005 when it has none. */
export function closeCodeOf(frame: ServerFrame): number {
  return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
}

/** The text of a payload. */
export function text(payload: Uint8Array): string {
  return new TextDecoder().decode(payload);
}
