/**
 * permessage-deflate (RFC 7692) negotiation, sans I/O: parsing `Sec-WebSocket-Extensions`,
 * choosing the server's answer to the client's offers (§7.1), building the client's offer and
 * checking the server's answer (§7.1, §7.2.2). The parser is a single forward scan (no regular
 * expressions, nothing that can backtrack); a header it cannot parse is treated as no offer at
 * all, so a malformed header never breaks a handshake: the connection just goes uncompressed.
 * @module
 */

import { isToken } from "./http_head.ts";
import { checkDeflateOptions } from "../options.ts";

/** permessage-deflate settings, for `serve()` and `connect()` alike. */
export interface PerMessageDeflateOptions {
  /** zlib compression level, 0 (none) to 9 (best). Defaults to 1 (fastest; see the README). */
  level?: number;
  /** zlib memLevel, 1 to 9: memory for the compressor's internal state. Defaults to 8. */
  memLevel?: number;
  /** Messages smaller than this many bytes are sent uncompressed. Defaults to 1024. */
  threshold?: number;
  /**
   * The server resets its compressor after every message (less memory, worse ratio). On the
   * server this is answered to every client; on the client it is asked of the server.
   */
  serverNoContextTakeover?: boolean;
  /** The client resets its compressor after every message. Server: required of the client. */
  clientNoContextTakeover?: boolean;
  /**
   * The server's compression window, 9 to 15 (2^n bytes). A server uses and announces it; a
   * client asks the server for it. 8 is not supported: zlib's raw deflate cannot use a 256-byte
   * window (it silently uses 512), so offers that require it are declined.
   */
  serverMaxWindowBits?: number;
  /** The client's compression window, 9 to 15: what a server asks of clients, or a client uses. */
  clientMaxWindowBits?: number;
}

/** One parameter of an extension: its name and its value (`true` when it has none). */
export type ExtensionParam = readonly [name: string, value: string | true];

/** One element of a `Sec-WebSocket-Extensions` list. */
export interface ExtensionElement {
  /** The extension's name, as sent (compare case-insensitively). */
  name: string;
  /** Its parameters, in order (repeats kept, so that they can be refused). */
  params: ExtensionParam[];
}

/**
 * What both ends agreed on, from this end's point of view: "send" is what this end compresses,
 * "receive" what it inflates.
 */
export interface DeflateAgreement {
  /** This end resets its compressor after each message. */
  sendNoContextTakeover: boolean;
  /** The peer resets its compressor after each message (this end may reset its inflater). */
  receiveNoContextTakeover: boolean;
  /** The window this end compresses with, 9 to 15. */
  sendWindowBits: number;
  /** The largest window the peer compresses with, 8 to 15. */
  receiveWindowBits: number;
  /** zlib level, memLevel and the size threshold, from this end's options. */
  level: number;
  /** zlib memLevel. */
  memLevel: number;
  /** Messages below this many bytes go uncompressed. */
  threshold: number;
}

/** The extension's registered name. */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

const DEFAULTS = { level: 1, memLevel: 8, threshold: 1024 };

/**
 * Checks the options and fills in the defaults. Throws a RangeError for a value out of range, a
 * TypeError for one of the wrong type or an unknown option.
 */
export function resolveDeflateOptions(
  options: boolean | PerMessageDeflateOptions | undefined,
): Required<PerMessageDeflateOptions> | null {
  // The same rules as serve() and connect() (which have checked already, naming their option).
  checkDeflateOptions(options);
  if (options === undefined || options === false) return null;
  const given = options === true ? {} : options;
  const resolved = {
    level: given.level ?? DEFAULTS.level,
    memLevel: given.memLevel ?? DEFAULTS.memLevel,
    threshold: given.threshold ?? DEFAULTS.threshold,
    serverNoContextTakeover: given.serverNoContextTakeover ?? false,
    clientNoContextTakeover: given.clientNoContextTakeover ?? false,
    serverMaxWindowBits: given.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: given.clientMaxWindowBits ?? 15,
  };
  return resolved;
}

// ------------------------------------------------------------------------------------ parsing

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Longer headers are not parsed (a browser's offer is under 100 bytes). */
const MAX_HEADER_LENGTH = 4096;

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1): comma-separated extensions, each a
 * token followed by `;`-separated parameters, each a token with an optional `=` value that is a
 * token or a quoted string (whose unescaped content must itself be a token, RFC 6455 §9.1). Empty
 * list elements are skipped. Returns null when the value is malformed anywhere, or too long.
 */
export function parseExtensions(value: string | null): ExtensionElement[] | null {
  if (value === null) return [];
  if (value.length > MAX_HEADER_LENGTH) return null;
  const elements: ExtensionElement[] = [];
  let at = 0;
  const end = value.length;
  const skipSpace = () => {
    while (at < end && (value.charCodeAt(at) === SP || value.charCodeAt(at) === HTAB)) at++;
  };
  const readToken = (): string => {
    const start = at;
    while (at < end && isTokenChar(value.charCodeAt(at))) at++;
    return value.slice(start, at);
  };
  while (true) {
    skipSpace();
    if (at === end) return elements;
    if (value.charCodeAt(at) === COMMA) {
      at++; // an empty list element
      continue;
    }
    const name = readToken();
    if (name === "") return null;
    const element: ExtensionElement = { name, params: [] };
    elements.push(element);
    skipSpace();
    while (at < end && value.charCodeAt(at) === SEMICOLON) {
      at++;
      skipSpace();
      const param = readToken();
      if (param === "") return null;
      skipSpace();
      let paramValue: string | true = true;
      if (at < end && value.charCodeAt(at) === EQUALS) {
        at++;
        skipSpace();
        if (at < end && value.charCodeAt(at) === DQUOTE) {
          at++;
          let text = "";
          let closed = false;
          while (at < end) {
            const c = value.charCodeAt(at++);
            if (c === DQUOTE) {
              closed = true;
              break;
            }
            if (c === BACKSLASH) {
              if (at === end) return null;
              text += value[at++];
            } else {
              text += value[at - 1];
            }
          }
          if (!closed || !isToken(text)) return null;
          paramValue = text;
        } else {
          paramValue = readToken();
          if (paramValue === "") return null;
        }
        skipSpace();
      }
      element.params.push([param, paramValue]);
    }
    if (at === end) return elements;
    if (value.charCodeAt(at) !== COMMA) return null;
    at++;
  }
}

function isTokenChar(c: number): boolean {
  // RFC 7230 tchar: visible ASCII except separators.
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case 0x22: // "
    case 0x28: // (
    case 0x29: // )
    case 0x2c: // ,
    case 0x2f: // /
    case 0x3a: // :
    case 0x3b: // ;
    case 0x3c: // <
    case 0x3d: // =
    case 0x3e: // >
    case 0x3f: // ?
    case 0x40: // @
    case 0x5b: // [
    case 0x5c: // \
    case 0x5d: // ]
    case 0x7b: // {
    case 0x7d: // }
      return false;
  }
  return true;
}

/** The window-bits value `8`..`15` without leading zeros, or null. */
function parseWindowBits(value: string): number | null {
  if (value.length === 1 && value >= "8" && value <= "9") return Number(value);
  if (value.length === 2 && value[0] === "1" && value[1] >= "0" && value[1] <= "5") {
    return Number(value);
  }
  return null;
}

/** A permessage-deflate element's parameters, checked: each known, at most once, valid. */
interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** null when absent. */
  serverMaxWindowBits: number | null;
  /** null when absent, true when present without a value. */
  clientMaxWindowBits: number | true | null;
}

function readDeflateParams(params: readonly ExtensionParam[]): DeflateParams | null {
  const result: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
        if (value !== true) return null;
        result.serverNoContextTakeover = true;
        break;
      case "client_no_context_takeover":
        if (value !== true) return null;
        result.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        if (value === true) return null;
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        result.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (value === true) {
          result.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        result.clientMaxWindowBits = bits;
        break;
      }
      default:
        return null;
    }
  }
  return result;
}

// ------------------------------------------------------------------------------- server side

/** The server's decision: the response header value and the agreement, or null to decline. */
export interface ServerNegotiation {
  /** The `Sec-WebSocket-Extensions` response value. */
  response: string;
  /** What was agreed, from the server's point of view. */
  agreement: DeflateAgreement;
}

/**
 * Answers the client's `Sec-WebSocket-Extensions` (RFC 7692 §7.1): the first permessage-deflate
 * offer the server can accept, in the client's order, or null (no compression) when there is
 * none, when the header is malformed, or when `options` is null (compression off).
 *
 * An offer is declined when a parameter is unknown, repeated or has an invalid value, or when it
 * asks for `server_max_window_bits=8` (zlib cannot compress with a 256-byte window).
 */
export function negotiateServer(
  header: string | null,
  options: Required<PerMessageDeflateOptions> | null,
): ServerNegotiation | null {
  if (options === null || header === null) return null;
  const elements = parseExtensions(header);
  if (elements === null) return null;
  for (const element of elements) {
    if (element.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
    const offer = readDeflateParams(element.params);
    if (offer === null) continue;
    let sendWindowBits = options.serverMaxWindowBits;
    if (offer.serverMaxWindowBits !== null) {
      if (offer.serverMaxWindowBits < 9) continue;
      sendWindowBits = Math.min(sendWindowBits, offer.serverMaxWindowBits);
    }
    // The client's window: what it offered to limit itself to, further limited by our option
    // when it said it understands the response parameter.
    let receiveWindowBits = 15;
    let announceClientBits = false;
    if (offer.clientMaxWindowBits !== null) {
      const offered = offer.clientMaxWindowBits === true ? 15 : offer.clientMaxWindowBits;
      receiveWindowBits = Math.min(offered, options.clientMaxWindowBits);
      announceClientBits = receiveWindowBits < 15 || offer.clientMaxWindowBits !== true;
    }
    const sendNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover;
    const receiveNoContextTakeover = offer.clientNoContextTakeover ||
      options.clientNoContextTakeover;
    let response = PERMESSAGE_DEFLATE;
    if (sendNoContextTakeover) response += "; server_no_context_takeover";
    if (receiveNoContextTakeover) response += "; client_no_context_takeover";
    if (offer.serverMaxWindowBits !== null || sendWindowBits < 15) {
      response += `; server_max_window_bits=${sendWindowBits}`;
    }
    if (announceClientBits) response += `; client_max_window_bits=${receiveWindowBits}`;
    return {
      response,
      agreement: {
        sendNoContextTakeover,
        receiveNoContextTakeover,
        sendWindowBits,
        receiveWindowBits,
        level: options.level,
        memLevel: options.memLevel,
        threshold: options.threshold,
      },
    };
  }
  return null;
}

// ------------------------------------------------------------------------------- client side

/**
 * The client's offer: `permessage-deflate` with `client_max_window_bits` (so that the server may
 * limit our window), plus whatever the options ask of the server.
 */
export function clientOffer(options: Required<PerMessageDeflateOptions>): string {
  let offer = PERMESSAGE_DEFLATE;
  if (options.serverNoContextTakeover) offer += "; server_no_context_takeover";
  if (options.clientNoContextTakeover) offer += "; client_no_context_takeover";
  if (options.serverMaxWindowBits < 15) {
    offer += `; server_max_window_bits=${options.serverMaxWindowBits}`;
  }
  offer += options.clientMaxWindowBits < 15
    ? `; client_max_window_bits=${options.clientMaxWindowBits}`
    : "; client_max_window_bits";
  return offer;
}

/** What the client concludes from the server's `Sec-WebSocket-Extensions`. */
export type ClientNegotiation =
  | { ok: true; agreement: DeflateAgreement | null }
  | { ok: false; message: string };

/**
 * Checks the server's `Sec-WebSocket-Extensions` against what the client offered (`options`,
 * or null when it offered nothing): at most one extension, permessage-deflate, with parameters
 * that are known, unrepeated, valid, and within the offer (RFC 7692 §7.1). Anything else fails
 * the handshake, as RFC 6455 §4.1 requires of a response naming an extension not offered.
 */
export function checkServerResponse(
  header: string | null,
  options: Required<PerMessageDeflateOptions> | null,
): ClientNegotiation {
  if (header === null || header.trim() === "") return { ok: true, agreement: null };
  const fail = (why: string): ClientNegotiation => ({
    ok: false,
    message: `the server chose extensions "${header}", which ${why}`,
  });
  if (options === null) return fail("were not offered");
  const elements = parseExtensions(header);
  if (elements === null) return fail("is not a valid extension list");
  if (elements.length === 0) return { ok: true, agreement: null };
  if (elements.length > 1) return fail("names more than one extension");
  const element = elements[0];
  if (element.name.toLowerCase() !== PERMESSAGE_DEFLATE) return fail("were not offered");
  const params = readDeflateParams(element.params);
  if (params === null) return fail("has unknown, repeated or invalid parameters");
  if (params.clientMaxWindowBits === true) {
    return fail("has client_max_window_bits without a value");
  }
  let sendWindowBits = options.clientMaxWindowBits;
  if (params.clientMaxWindowBits !== null) {
    if (params.clientMaxWindowBits > options.clientMaxWindowBits) {
      return fail("allows a larger client window than offered");
    }
    if (params.clientMaxWindowBits < 9) {
      return fail("asks for a 256-byte client window, which zlib cannot compress with");
    }
    sendWindowBits = params.clientMaxWindowBits;
  }
  let receiveWindowBits = 15;
  if (params.serverMaxWindowBits !== null) {
    if (
      options.serverMaxWindowBits < 15 && params.serverMaxWindowBits > options.serverMaxWindowBits
    ) {
      return fail("announces a larger server window than asked for");
    }
    receiveWindowBits = params.serverMaxWindowBits;
  } else if (options.serverMaxWindowBits < 15) {
    return fail("ignores the server_max_window_bits asked for");
  }
  if (options.serverNoContextTakeover && !params.serverNoContextTakeover) {
    return fail("ignores the server_no_context_takeover asked for");
  }
  return {
    ok: true,
    agreement: {
      sendNoContextTakeover: params.clientNoContextTakeover || options.clientNoContextTakeover,
      receiveNoContextTakeover: params.serverNoContextTakeover,
      sendWindowBits,
      receiveWindowBits,
      level: options.level,
      memLevel: options.memLevel,
      threshold: options.threshold,
    },
  };
}
