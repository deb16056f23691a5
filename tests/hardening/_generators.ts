/**
 * Input generators for the fuzz tests: valid WebSocket byte streams (with the events they must
 * produce), random frames, mutations, and valid HTTP request heads.
 * @module
 */

import { concat } from "../helpers/bytes.ts";
import type { Rng } from "./_prng.ts";
import type { WsEvent } from "./_reference.ts";

const encoder = new TextEncoder();

/** Random text mixing 1- to 4-byte UTF-8 characters (a U+FEFF now and then). */
export function randomText(rng: Rng, maxChars: number): string {
  const n = rng.int(maxChars + 1);
  let out = "";
  for (let i = 0; i < n; i++) {
    const kind = rng.int(10);
    let cp: number;
    if (kind < 5) cp = rng.range(0x20, 0x7e);
    else if (kind === 5) cp = rng.range(0, 0x7f);
    else if (kind === 6) cp = rng.range(0x80, 0x7ff);
    else if (kind === 7) {
      cp = rng.range(0x800, 0xffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfeff;
    } else if (kind === 8) cp = rng.range(0x10000, 0x10ffff);
    else cp = rng.pick([0xfeff, 0xfffd, 0x00e9, 0x1f600, 0x10ffff, 0xffff]);
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** A payload length: mostly small, around the 7/16/64-bit length boundaries now and then. */
function payloadLength(rng: Rng, big: boolean): number {
  const k = rng.int(20);
  if (k < 10) return rng.int(20);
  if (k < 15) return rng.range(20, 200);
  if (k < 18) return rng.pick([0, 1, 124, 125, 126, 127, 128]);
  if (k < 19) return rng.chance(0.1) ? rng.range(1000, 5000) : rng.range(0, 8);
  return big ? rng.range(65536, 66000) : rng.range(0, 300);
}

/** One encoded frame. `lengthBits` forces a length encoding (non-minimal is allowed). */
export function frame(
  fin: boolean,
  opcode: number,
  payload: Uint8Array,
  mask: Uint8Array | null,
  options: { rsv?: number; lengthBits?: 7 | 16 | 64 } = {},
): Uint8Array {
  const n = payload.length;
  const bits = options.lengthBits ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const headerLength = 2 + (bits === 16 ? 2 : bits === 64 ? 8 : 0) + (mask ? 4 : 0);
  const out = new Uint8Array(headerLength + n);
  out[0] = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  const maskBit = mask ? 0x80 : 0;
  let at = 2;
  if (bits === 7) out[1] = maskBit | n;
  else if (bits === 16) {
    out[1] = maskBit | 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
    at = 4;
  } else {
    out[1] = maskBit | 127;
    const high = Math.floor(n / 0x1_0000_0000);
    const low = n >>> 0;
    out[2] = high >>> 24;
    out[3] = (high >>> 16) & 0xff;
    out[4] = (high >>> 8) & 0xff;
    out[5] = high & 0xff;
    out[6] = low >>> 24;
    out[7] = (low >>> 16) & 0xff;
    out[8] = (low >>> 8) & 0xff;
    out[9] = low & 0xff;
    at = 10;
  }
  if (mask) {
    out.set(mask, at);
    at += 4;
    for (let i = 0; i < n; i++) out[at + i] = payload[i] ^ mask[i & 3];
  } else out.set(payload, at);
  return out;
}

const CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000];

/**
 * A valid stream from a peer (masked when `masked`): messages, some fragmented (cut at any byte,
 * inside UTF-8 sequences too), pings and pongs between and inside them, maybe a close at the end.
 * Returns the bytes and the events a receiver without limits must report.
 */
export function validStream(
  rng: Rng,
  masked: boolean,
  big: boolean,
): { bytes: Uint8Array; events: WsEvent[] } {
  const frames: Uint8Array[] = [];
  const events: WsEvent[] = [];
  const mask = () => (masked ? rng.bytes(4) : null);
  const lengthBits = (n: number): 7 | 16 | 64 | undefined => {
    if (!rng.chance(0.05)) return undefined;
    if (n < 126) return rng.pick([16, 64] as const);
    return n < 65536 ? 64 : undefined;
  };
  const control = () => {
    const opcode = rng.chance(0.5) ? 9 : 10;
    const data = rng.bytes(rng.chance(0.1) ? 125 : rng.int(10));
    frames.push(frame(true, opcode, data, mask(), { lengthBits: lengthBits(data.length) }));
    events.push({ kind: opcode === 9 ? "ping" : "pong", data });
  };
  const messages = rng.int(5);
  for (let m = 0; m < messages; m++) {
    if (rng.chance(0.2)) control();
    const isText = rng.chance(0.5);
    let payload: Uint8Array;
    let text = "";
    if (isText) {
      text = randomText(rng, rng.chance(0.01) ? 3000 : 24);
      payload = encoder.encode(text);
    } else payload = rng.bytes(payloadLength(rng, big));
    const pieces = rng.chance(0.6) ? 1 : rng.range(2, 6);
    const cuts = [0];
    for (let i = 1; i < pieces; i++) cuts.push(rng.int(payload.length + 1));
    cuts.push(payload.length);
    cuts.sort((a, b) => a - b);
    for (let i = 0; i < pieces; i++) {
      const part = payload.subarray(cuts[i], cuts[i + 1]);
      const opcode = i === 0 ? (isText ? 1 : 2) : 0;
      frames.push(
        frame(i === pieces - 1, opcode, part, mask(), { lengthBits: lengthBits(part.length) }),
      );
      if (i < pieces - 1 && rng.chance(0.2)) control();
    }
    events.push(isText ? { kind: "text", data: text } : { kind: "binary", data: payload });
  }
  if (rng.chance(0.3)) {
    if (rng.chance(0.2)) {
      frames.push(frame(true, 8, new Uint8Array(0), mask()));
      events.push({ kind: "close", code: 1005, reason: "" });
    } else {
      const code = rng.chance(0.8) ? rng.pick(CLOSE_CODES) : rng.range(3000, 4999);
      let reason = randomText(rng, 30);
      while (encoder.encode(reason).length > 123) reason = reason.slice(0, -1);
      const r = encoder.encode(reason);
      const payload = new Uint8Array(2 + r.length);
      payload[0] = code >> 8;
      payload[1] = code & 0xff;
      payload.set(r, 2);
      frames.push(frame(true, 8, payload, mask()));
      events.push({ kind: "close", code, reason });
    }
  }
  return { bytes: concat(...frames), events };
}

/** Frames with random header fields (any opcode, reserved bits, either mask bit, odd lengths). */
export function randomFrames(rng: Rng, masked: boolean): Uint8Array {
  const frames: Uint8Array[] = [];
  const count = rng.range(1, 6);
  for (let i = 0; i < count; i++) {
    const opcode = rng.chance(0.6) ? rng.pick([0, 1, 2, 8, 9, 10]) : rng.int(16);
    const payload = rng.chance(0.5) ? rng.bytes(rng.int(140)) : encoder.encode(randomText(rng, 20));
    frames.push(frame(
      rng.chance(0.7),
      opcode,
      payload,
      rng.chance(0.9) === masked ? rng.bytes(4) : null,
      { rsv: rng.chance(0.1) ? rng.int(8) : 0 },
    ));
  }
  return concat(...frames);
}

/** The input with 1–4 random changes: bits flipped, bytes replaced, cut, repeated, spliced. */
export function mutate(rng: Rng, input: Uint8Array, other: () => Uint8Array): Uint8Array {
  let bytes = input;
  const changes = rng.range(1, 4);
  for (let c = 0; c < changes; c++) {
    const n = bytes.length;
    const at = rng.int(n + 1);
    switch (rng.int(8)) {
      case 0: // flip a bit
        if (n > 0) {
          bytes = bytes.slice();
          bytes[rng.int(n)] ^= 1 << rng.int(8);
        }
        break;
      case 1: // replace a byte, often in a header-ish spot
        if (n > 0) {
          bytes = bytes.slice();
          const i = rng.chance(0.5) ? rng.int(Math.min(n, 16)) : rng.int(n);
          bytes[i] = rng.pick([0x00, 0x7e, 0x7f, 0x80, 0xff, 0x88, 0x8a, 0x89, rng.int(256)]);
        }
        break;
      case 2: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 3: { // duplicate a range in place
        const end = Math.min(n, at + rng.range(1, 64));
        bytes = concat(bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end));
        break;
      }
      case 4: { // delete a range
        const end = Math.min(n, at + rng.range(1, 16));
        bytes = concat(bytes.subarray(0, at), bytes.subarray(end));
        break;
      }
      case 5: // insert random bytes
        bytes = concat(bytes.subarray(0, at), rng.bytes(rng.range(1, 8)), bytes.subarray(at));
        break;
      case 6: // splice in another stream
        bytes = concat(bytes.subarray(0, at), other(), bytes.subarray(at));
        break;
      default: // repeat the whole input
        bytes = concat(bytes, bytes);
    }
  }
  return bytes;
}

// ------------------------------------------------------------------------------ HTTP

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEADER_NAMES = [
  "Host",
  "Upgrade",
  "Connection",
  "Sec-WebSocket-Key",
  "Sec-WebSocket-Version",
  "Sec-WebSocket-Protocol",
  "Sec-WebSocket-Extensions",
  "Origin",
  "Cookie",
  "User-Agent",
  "X-Forwarded-For",
  "Content-Length",
];

function token(rng: Rng, max: number): string {
  let out = "";
  const n = rng.range(1, max);
  for (let i = 0; i < n; i++) out += TOKEN_CHARS[rng.int(TOKEN_CHARS.length)];
  return out;
}

function chars(rng: Rng, n: number, lo: number, hi: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += String.fromCharCode(rng.range(lo, hi));
  return out;
}

/** A valid request head (latin1 bytes), with its parts, as the parser must read it. */
export function validRequestHead(rng: Rng): {
  bytes: Uint8Array;
  method: string;
  target: string;
  version: string;
  fields: Array<[string, string]>;
} {
  const method = rng.chance(0.8) ? rng.pick(["GET", "POST", "HEAD", "OPTIONS"]) : token(rng, 10);
  const target = rng.chance(0.1)
    ? `ws://${token(rng, 8)}.example:${rng.int(65536)}/${chars(rng, rng.int(20), 0x21, 0x7e)}`
    : "/" + chars(rng, rng.int(40), 0x21, 0x7e);
  const version = rng.chance(0.9) ? "HTTP/1.1" : "HTTP/1.0";
  const fields: Array<[string, string]> = [];
  const count = rng.int(12);
  for (let i = 0; i < count; i++) {
    const name = rng.chance(0.7) ? rng.pick(HEADER_NAMES) : token(rng, 16);
    let value = "";
    const n = rng.int(rng.chance(0.01) ? 2000 : 30);
    for (let j = 0; j < n; j++) {
      const k = rng.int(20);
      value += k === 0 ? "\t" : k === 1 ? String.fromCharCode(rng.range(0x80, 0xff)) : chars(
        rng,
        1,
        0x20,
        0x7e,
      );
    }
    fields.push([name, value]);
  }
  const ows = () => rng.pick(["", "", " ", "  ", "\t", " \t "]);
  let text = `${method} ${target} ${version}\r\n`;
  for (const [name, value] of fields) text += `${name}:${ows()}${value}${ows()}\r\n`;
  text += "\r\n";
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return { bytes, method, target, version, fields };
}

/** Bytes biased towards what matters to head parsing: CR, LF, colons, spaces, controls. */
export function headNoise(rng: Rng, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const k = rng.int(10);
    out[i] = k < 3
      ? rng.pick([13, 10, 13, 10, 0x3a, 0x20, 0x09, 0x00, 0x7f, 0xff])
      : k < 8
      ? rng.range(0x21, 0x7e)
      : rng.int(256);
  }
  return out;
}
