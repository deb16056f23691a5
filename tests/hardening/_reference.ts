/**
 * Reference models for the fuzz tests, written from RFC 6455 and RFC 9112 independently of src/:
 * a whole-buffer WebSocket receiver (with the library's documented limits and error codes) and a
 * request-head parser. They are slow and simple on purpose; the fuzz tests check that the real,
 * incremental code agrees with them on every input, however it is cut into chunks.
 * @module
 */

import { concat } from "../helpers/bytes.ts";

/** What a receiver reports, in order. */
export type WsEvent =
  | { kind: "text"; data: string }
  | { kind: "binary"; data: Uint8Array }
  | { kind: "ping"; data: Uint8Array }
  | { kind: "pong"; data: Uint8Array }
  | { kind: "close"; code: number; reason: string }
  | { kind: "error"; code: number };

/** The limits a receiver runs with. */
export interface WsLimits {
  expectMasked: boolean;
  maxPayload: number;
  maxFrameSize: number;
  maxFragments: number;
}

/** UTF-8 validation that fails on the first byte that cannot continue a valid sequence. */
export class Utf8Validator {
  needed = 0;
  seen = 0;
  lower = 0x80;
  upper = 0xbf;

  clone(): Utf8Validator {
    const copy = new Utf8Validator();
    copy.needed = this.needed;
    copy.seen = this.seen;
    copy.lower = this.lower;
    copy.upper = this.upper;
    return copy;
  }

  /** False as soon as the bytes so far cannot be the start of valid UTF-8. */
  feed(bytes: Uint8Array): boolean {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.needed === 0) {
        if (b <= 0x7f) continue;
        if (b >= 0xc2 && b <= 0xdf) this.needed = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.lower = 0xa0;
          if (b === 0xed) this.upper = 0x9f;
          this.needed = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.lower = 0x90;
          if (b === 0xf4) this.upper = 0x8f;
          this.needed = 3;
        } else return false;
        continue;
      }
      if (b < this.lower || b > this.upper) return false;
      this.lower = 0x80;
      this.upper = 0xbf;
      if (++this.seen === this.needed) {
        this.needed = 0;
        this.seen = 0;
      }
    }
    return true;
  }

  /** False when the text ends inside a sequence. */
  end(): boolean {
    return this.needed === 0;
  }
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Close codes a peer may put on the wire (RFC 6455 §7.4, IANA registry). */
export function wireCloseCode(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1002 || code === 1003 ||
    (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** Everything a receiver must report for the whole byte stream `bytes`. */
export function referenceReceive(bytes: Uint8Array, limits: WsLimits): WsEvent[] {
  const events: WsEvent[] = [];
  const fail = (code: number) => {
    events.push({ kind: "error", code });
    return events;
  };
  let pos = 0;
  let messageOpcode = 0; // 0: no fragmented message in progress
  let messageLength = 0;
  let fragments = 0;
  let parts: Uint8Array[] = [];
  let validator = new Utf8Validator();

  while (true) {
    const left = bytes.length - pos;
    if (left < 2) return events;
    const b0 = bytes[pos];
    const b1 = bytes[pos + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (left < headerLength) return events;
    let at = pos + 2;
    let length = len7;
    if (len7 === 126) {
      length = bytes[at] * 256 + bytes[at + 1];
      at += 2;
    } else if (len7 === 127) {
      if (bytes[at] & 0x80) return fail(1002); // the most significant bit must be 0
      length = 0;
      for (let i = 0; i < 8; i++) length = length * 256 + bytes[at + i];
      at += 8;
    }
    const mask = masked ? bytes.subarray(at, at + 4) : null;
    at += masked ? 4 : 0;

    const control = opcode >= 8;
    if (rsv !== 0) return fail(1002);
    if (!(opcode <= 2 || (opcode >= 8 && opcode <= 10))) return fail(1002);
    if (masked !== limits.expectMasked) return fail(1002);
    if (control) {
      if (!fin || length > 125) return fail(1002);
    } else if (opcode === 0) {
      if (messageOpcode === 0) return fail(1002);
      if (fragments + 1 > limits.maxFragments) return fail(1009);
      fragments++;
    } else if (messageOpcode !== 0) {
      return fail(1002);
    }
    if (!control && length > limits.maxFrameSize) return fail(1009);
    if (!control && messageLength + length > limits.maxPayload) return fail(1009);

    const isText = opcode === 1 || (opcode === 0 && messageOpcode === 1);
    const available = bytes.length - at;
    if (available < length) {
      // The frame is cut short. Text already received is checked as it arrives.
      if (isText) {
        const partial = unmask(bytes.subarray(at), mask);
        const v = opcode === 1 ? new Utf8Validator() : validator.clone();
        if (!v.feed(partial)) return fail(1007);
      }
      return events;
    }
    const payload = unmask(bytes.subarray(at, at + length), mask);
    pos = at + length;

    if (opcode === 9) events.push({ kind: "ping", data: payload });
    else if (opcode === 10) events.push({ kind: "pong", data: payload });
    else if (opcode === 8) {
      if (payload.length === 0) {
        events.push({ kind: "close", code: 1005, reason: "" });
        return events;
      }
      if (payload.length === 1) return fail(1002);
      const code = payload[0] * 256 + payload[1];
      if (!wireCloseCode(code)) return fail(1002);
      const reason = payload.subarray(2);
      const v = new Utf8Validator();
      if (!v.feed(reason) || !v.end()) return fail(1007);
      events.push({ kind: "close", code, reason: utf8.decode(reason) });
      return events;
    } else {
      if (opcode !== 0) {
        messageOpcode = opcode;
        fragments = 1;
        messageLength = 0;
        parts = [];
        validator = new Utf8Validator();
      }
      messageLength += length;
      if (messageOpcode === 1 && (!validator.feed(payload) || (fin && !validator.end()))) {
        return fail(1007);
      }
      parts.push(payload);
      if (fin) {
        const data = concat(...parts);
        events.push(
          messageOpcode === 1
            ? { kind: "text", data: utf8.decode(data) }
            : { kind: "binary", data },
        );
        messageOpcode = 0;
        messageLength = 0;
        fragments = 0;
        parts = [];
      }
    }
  }
}

function unmask(bytes: Uint8Array, mask: Uint8Array | null): Uint8Array {
  const out = bytes.slice();
  if (mask !== null) { for (let i = 0; i < out.length; i++) out[i] ^= mask[i & 3]; }
  return out;
}

/** Whether two event lists are the same. */
export function sameEvents(a: WsEvent[], b: WsEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.kind !== y.kind) return false;
    if (x.kind === "error" || x.kind === "close") {
      const yy = y as typeof x;
      if (x.code !== yy.code) return false;
      if (x.kind === "close" && x.reason !== (yy as { reason: string }).reason) return false;
    } else if (x.kind === "text") {
      if (x.data !== (y as typeof x).data) return false;
    } else {
      const p = x.data;
      const q = (y as typeof x).data;
      if (p.length !== q.length) return false;
      for (let j = 0; j < p.length; j++) if (p[j] !== q[j]) return false;
    }
  }
  return true;
}

/** Events as text, for failure messages. */
export function describeEvents(events: WsEvent[]): string {
  return events.map((e) => {
    switch (e.kind) {
      case "text":
        return `text(${JSON.stringify(e.data.length > 40 ? e.data.slice(0, 40) + "…" : e.data)})`;
      case "error":
        return `error(${e.code})`;
      case "close":
        return `close(${e.code}, ${JSON.stringify(e.reason)})`;
      default:
        return `${e.kind}(${e.data.length} bytes)`;
    }
  }).join(" ");
}

// ------------------------------------------------------------------------------ HTTP

/** The reference's reading of a request head: an error status, or the parts. */
export type RefHead =
  | { status: number }
  | { method: string; target: string; version: string; headers: Map<string, string[]> };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function isTokenRef(s: string): boolean {
  return TOKEN.test(s);
}

function trimSpaceTab(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s[a] === " " || s[a] === "\t")) a++;
  while (b > a && (s[b - 1] === " " || s[b - 1] === "\t")) b--;
  return s.slice(a, b);
}

/**
 * Reads a head that ends with the blank line (RFC 9112 §2–5, strict: CRLF only, no folding, no
 * space before the colon, one space between the request-line parts).
 */
export function referenceParseHead(bytes: Uint8Array, maxHeaders: number): RefHead {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  const body = s.slice(0, -2); // without the blank line's CRLF
  const lines = body.split("\r\n");
  lines.pop(); // body ends with CRLF: the last piece is empty
  if (lines.length === 0 || lines.some((l) => l.includes("\r") || l.includes("\n"))) {
    return { status: 400 };
  }
  const parts = lines[0].split(" ");
  if (parts.length !== 3) return { status: 400 };
  const [method, target, version] = parts;
  if (!isTokenRef(method) || !/^[\x21-\x7e]+$/.test(target)) return { status: 400 };
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return { status: version.startsWith("HTTP/") ? 505 : 400 };
  }
  if (lines.length - 1 > maxHeaders) return { status: 431 };
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon < 0) return { status: 400 };
    const name = line.slice(0, colon);
    if (!isTokenRef(name)) return { status: 400 };
    const value = trimSpaceTab(line.slice(colon + 1));
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) return { status: 400 };
    const key = name.toLowerCase();
    const values = headers.get(key);
    if (values === undefined) headers.set(key, [value]);
    else values.push(value);
  }
  return { method, target, version, headers };
}

/** Index just past the first CRLFCRLF at or after `from`, or -1: the obvious way. */
export function referenceHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from); i + 4 <= bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10
    ) return i + 4;
  }
  return -1;
}
