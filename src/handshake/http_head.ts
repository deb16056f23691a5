/**
 * Reading an HTTP/1.1 request head (RFC 9112) from bytes that arrive in pieces, strictly and
 * without regular expressions: a malformed head is refused, never guessed at.
 * @module
 */

/** An HTTP error to answer with before any WebSocket exists. */
export interface HttpError {
  /** The status to answer with (400, 414, 431, …). */
  status: number;
  /** A short explanation, sent as the response body. */
  message: string;
}

/** A parsed request line and header section. */
export interface RequestHead {
  /** The method, e.g. `GET`. */
  method: string;
  /** The request target as sent: origin-form (`/path?q`) or absolute-form (`ws://host/path`). */
  target: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** The header fields; repeated fields are joined with ", ". */
  headers: HeaderFields;
}

/**
 * Header fields as received, looked up by name (any case; repeats joined with ", ", as `Headers`
 * does). Lighter than a `Headers`, which validates and normalises each field again: every
 * handshake reads a few fields, and a `Headers` is made only for an application that asks
 * ({@link HeaderFields.toHeaders}).
 */
export class HeaderFields {
  readonly #fields: [string, string][] = [];
  readonly #byName = new Map<string, string>();

  /** Adds a field (already checked to be a token name and a valid value). */
  append(name: string, value: string): void {
    this.#fields.push([name, value]);
    const key = name.toLowerCase();
    const previous = this.#byName.get(key);
    this.#byName.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }

  /** The field's value, repeats joined with ", "; null when absent. */
  get(name: string): string | null {
    return this.#byName.get(name.toLowerCase()) ?? null;
  }

  /** Whether the field is present. */
  has(name: string): boolean {
    return this.#byName.has(name.toLowerCase());
  }

  /** The fields as a standard `Headers`, for a `Request` or an error the application sees. */
  toHeaders(): Headers {
    return new Headers(this.#fields);
  }
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;

/** Characters allowed in a token (RFC 9110 §5.6.2): method names, header names, list items. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHARS[c.charCodeAt(0)] = 1;
}

/** Whether a string is a non-empty RFC 9110 token. */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

/**
 * Looks for the blank line that ends a head in `bytes`, starting at `from` (callers pass where the
 * previous search stopped, minus 3, so each byte is scanned about once). Returns the index just
 * past `\r\n\r\n`, or -1.
 */
export function findHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(from, 0); i + 3 < bytes.length; i++) {
    // The last byte first: it rules out almost every position with one comparison.
    if (bytes[i + 3] === LF && bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR) {
      return i + 4;
    }
  }
  return -1;
}

/**
 * Whether the bytes received so far can still be the start of a request line: printable ASCII
 * and spaces up to the first CR. Lets garbage (a TLS hello, binary noise) be refused at once
 * instead of waiting for a blank line that will never come.
 */
export function isPlausibleRequestStart(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === CR) return i + 1 >= bytes.length || bytes[i + 1] === LF;
    if (c < SP || c > 0x7e) return false;
  }
  return true;
}

/** Parses a complete head (`bytes` ends with the blank line). */
export function parseRequestHead(bytes: Uint8Array, maxHeaders: number): RequestHead | HttpError {
  const lines = splitLines(bytes);
  if (lines === null) return { status: 400, message: "Malformed line ending in request head" };
  const requestLine = lines[0];
  const firstSpace = requestLine.indexOf(" ");
  const lastSpace = requestLine.lastIndexOf(" ");
  if (firstSpace <= 0 || lastSpace === firstSpace) {
    return { status: 400, message: "Malformed request line" };
  }
  const method = requestLine.slice(0, firstSpace);
  const target = requestLine.slice(firstSpace + 1, lastSpace);
  const version = requestLine.slice(lastSpace + 1);
  if (!isToken(method) || !isVisibleAscii(target)) {
    return { status: 400, message: "Malformed request line" };
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return { status: version.startsWith("HTTP/") ? 505 : 400, message: "Unsupported HTTP version" };
  }
  const headers = parseHeaderFields(lines, maxHeaders);
  if (!(headers instanceof HeaderFields)) return headers;
  return { method, target, version, headers };
}

/** A parsed status line and header section. */
export interface ResponseHead {
  /** The status code. */
  status: number;
  /** The reason phrase (may be empty). */
  statusText: string;
  /** The header fields; repeated fields are joined with ", ". */
  headers: HeaderFields;
}

/** Parses a complete response head (`bytes` ends with the blank line). */
export function parseResponseHead(bytes: Uint8Array, maxHeaders: number): ResponseHead | HttpError {
  const lines = splitLines(bytes);
  if (lines === null) return { status: 502, message: "Malformed line ending in response head" };
  const statusLine = lines[0];
  // HTTP/1.1 SP 3DIGIT SP [reason]; some servers leave out the space before an empty reason.
  const code = statusLine.slice(9, 12);
  if (
    !statusLine.startsWith("HTTP/1.") || statusLine[8] !== " " || code.length !== 3 ||
    !isDigits(code) || (statusLine.length > 12 && statusLine[12] !== " ")
  ) {
    return { status: 502, message: "Malformed status line" };
  }
  const headers = parseHeaderFields(lines, maxHeaders);
  if (!(headers instanceof HeaderFields)) return headers;
  return { status: Number(code), statusText: statusLine.slice(13), headers };
}

/** Non-empty and visible ASCII only (VCHAR): a request target holds no spaces or controls. */
function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= SP || c >= 0x7f) return false;
  }
  return value.length > 0;
}

function isDigits(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return value.length > 0;
}

/** The header fields of a head, from its second line on. */
function parseHeaderFields(lines: string[], maxHeaders: number): HeaderFields | HttpError {
  if (lines.length - 1 > maxHeaders) {
    return { status: 431, message: "Too many header fields" };
  }
  const headers = new HeaderFields();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    // A name must be a token right up to the colon: "Host :" and folded lines are refused.
    if (colon <= 0 || !isToken(line.slice(0, colon))) {
      return { status: 400, message: "Malformed header field" };
    }
    const value = trimOws(line.slice(colon + 1));
    if (!isFieldValue(value)) return { status: 400, message: "Malformed header field value" };
    headers.append(line.slice(0, colon), value);
  }
  return headers;
}

/**
 * Splits a head into its lines, without the final blank line. Null when CR and LF are misused.
 * The bytes are checked in one pass and decoded in one call, then split as a string.
 */
function splitLines(bytes: Uint8Array): string[] | null {
  const end = bytes.length - 2; // the final CRLF of the blank line
  for (let i = 0; i < end; i++) {
    const c = bytes[i];
    if (c === LF) return null; // bare LF
    if (c === CR) {
      if (bytes[i + 1] !== LF) return null; // bare CR
      i++;
    }
  }
  if (end <= 0) return null;
  const lines = latin1(bytes, 0, end).split("\r\n");
  lines.pop(); // the empty string after the last line's CRLF
  return lines;
}

/** Decodes ASCII natively; for ASCII bytes UTF-8 and Latin-1 agree. */
const asciiDecoder = new TextDecoder();

/** Bytes to a string, one char per byte (header values may carry obs-text 0x80–0xFF). */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return asciiDecoder.decode(bytes.subarray(start, end));
  // (TextDecoder's "latin1" is windows-1252, which maps 0x80–0x9F elsewhere: not an option.)
  let out = "";
  for (let i = start; i < end; i += 4096) {
    const slice = bytes.subarray(i, Math.min(end, i + 4096));
    out += String.fromCharCode.apply(null, slice as unknown as number[]);
  }
  return out;
}

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

/** Field values may hold visible characters, spaces, tabs and obs-text, but no other controls. */
function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < SP && c !== HTAB) || c === 0x7f) return false;
  }
  return true;
}

/**
 * Splits a comma-separated header list (`Connection: keep-alive, Upgrade`) into trimmed, non-empty
 * items. Linear, no regular expression.
 */
export function parseList(value: string | null): string[] {
  if (value === null) return [];
  const items: string[] = [];
  for (const part of value.split(",")) {
    const item = trimOws(part);
    if (item.length > 0) items.push(item);
  }
  return items;
}

/** Whether a comma-separated header list contains `token`, compared case-insensitively. */
export function listHasToken(value: string | null, token: string): boolean {
  return parseList(value).some((item) => item.toLowerCase() === token);
}
