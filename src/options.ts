/**
 * Checking the options of `serve()` and `connect()` once, when the server or client is created,
 * so that a mistake is an exception that names the option instead of a server that misbehaves on
 * every connection (a negative `maxPayload` closing every message with 1009, a `NaN` timer, a
 * misspelt option silently ignored). One table of rules describes every option; one function
 * walks it. Nothing here runs per connection or per message.
 *
 * - a value of the wrong type, an option that does not exist (with the closest known name when it
 *   looks like a misspelling), a missing required field or a malformed string: `TypeError`;
 * - a number out of its range, not an integer where one is needed, `NaN` or `Infinity`:
 *   `RangeError`.
 *
 * Each message names the option (with its path, e.g. `perMessageDeflate.level`), the value given
 * and what is allowed. `undefined` counts as "not given", as it does for the defaults.
 * @module
 */

import type { ConnectionOptions } from "./connection/connection_options.ts";
import type { WebSocketHandler } from "./connection/websocket.ts";
import type { ServeOptions } from "./server.ts";
import type { ConnectOptions } from "./client.ts";
import type { PerMessageDeflateOptions } from "./handshake/permessage_deflate.ts";
import type { ClientTlsOptions, TlsCertificate } from "./transport.ts";
import type { Backplane } from "./backplane.ts";
import type { RateLimit } from "./connection/rate_limit.ts";
import { isToken } from "./handshake/http_head.ts";

/** What one option may be. */
type Rule =
  /**
   * A safe integer in [min, max] (max defaults to Number.MAX_SAFE_INTEGER); `unit` is said in the
   * message ("bytes"), `note` is added to it, `typeHint` too when the value is not a number.
   */
  | {
    kind: "integer";
    min: number;
    max?: number;
    unit?: string;
    orInfinity?: boolean;
    note?: string;
    typeHint?: string;
  }
  /** A finite number in [min, max], as for "integer". */
  | { kind: "number"; min: number; max: number; unit: string; note?: string }
  | { kind: "boolean" }
  | { kind: "function" }
  /** A string; `pem` requires PEM text, `check` any other form (described by `form`). */
  | {
    kind: "string";
    pem?: boolean;
    check?: (value: string) => boolean;
    form?: string;
    hint?: string;
  }
  /** An array of strings; `token` requires HTTP tokens (subprotocols), without repeats. */
  | { kind: "strings"; token?: boolean; pem?: boolean }
  /**
   * Nested options, checked with the same rules; `orBoolean` also allows true and false;
   * `oneOf`: at least one of these fields must be given.
   */
  | {
    kind: "object";
    shape: Shape;
    what: string;
    required?: string[];
    oneOf?: string[];
    orBoolean?: boolean;
  }
  /** An object of callbacks; unknown names are reported only on plain objects (see below). */
  | { kind: "handler"; shape: Shape }
  /** Any object (a class instance, typically) that has these methods. */
  | { kind: "methods"; names: readonly string[]; what: string }
  /** An instance of a built-in class, e.g. AbortSignal. */
  | { kind: "instance"; of: () => abstract new (...args: never[]) => unknown; what: string }
  /** Anything `new Headers(value)` accepts. */
  | { kind: "headers" }
  /** Anything at all (application data). */
  | { kind: "any" };

/** The rules of an options object, by option name, plus hints for names it does not have. */
interface Shape {
  rules: Record<string, Rule>;
  /**
   * Known wrong names (from other libraries, or the other end) and what to say about them: a
   * remark, or the option meant.
   */
  hints?: Record<string, string | { mean: string }>;
}

/** setTimeout's largest delay: a larger one fires at once on both runtimes (and in Node). */
const MAX_TIMER = 2_147_483_647;

const ms = (min: number, note?: string): Rule => ({
  kind: "number",
  min,
  max: MAX_TIMER,
  unit: "milliseconds",
  note,
});

/** Rules for every name in `T`, so that a new option cannot be added without a rule for it. */
type RulesFor<T> = { [K in keyof Required<T>]: Rule };

const HANDLER_RULES: RulesFor<WebSocketHandler<unknown>> = {
  open: { kind: "function" },
  message: { kind: "function" },
  drain: { kind: "function" },
  ping: { kind: "function" },
  pong: { kind: "function" },
  close: { kind: "function" },
  error: { kind: "function" },
  rateLimited: { kind: "function" },
};

const HANDLER: Shape = {
  rules: HANDLER_RULES,
  hints: Object.fromEntries(
    // Browser-style names: `onmessage` is the likeliest thing a newcomer writes.
    Object.keys(HANDLER_RULES).map((name) => [`on${name}`, { mean: name }]),
  ),
};

const CALLBACKS_HINT = "callbacks go in the websocket option: websocket: { message(ws, data) {} }";

const CONNECTION_RULES: RulesFor<ConnectionOptions> = {
  // 0 would refuse every non-empty message (and `ws` users write 0 for "no limit").
  maxPayload: { kind: "integer", min: 1, unit: "bytes" },
  maxFragments: { kind: "integer", min: 1 },
  closeTimeout: ms(0),
  // 0 is meaningful: every send past an empty buffer waits for `drain`.
  backpressureLimit: { kind: "integer", min: 0, unit: "bytes" },
  closeOnBackpressureLimit: { kind: "boolean" },
  maxFrameSize: { kind: "integer", min: 1, unit: "bytes" },
  idleTimeout: ms(0, "0 turns it off"),
  idlePing: { kind: "boolean" },
  heartbeatInterval: ms(0, "0 turns it off"),
  // 0 is meaningful too: read a message from the socket only when asked for one.
  messageQueueLength: { kind: "integer", min: 0 },
};

const DEFLATE_RULES: RulesFor<PerMessageDeflateOptions> = {
  level: { kind: "integer", min: 0, max: 9 },
  memLevel: { kind: "integer", min: 1, max: 9 },
  threshold: { kind: "integer", min: 0, unit: "bytes" },
  serverNoContextTakeover: { kind: "boolean" },
  clientNoContextTakeover: { kind: "boolean" },
  // 8 is refused: zlib's raw deflate cannot use a 256-byte window (see permessage_deflate.ts).
  serverMaxWindowBits: { kind: "integer", min: 9, max: 15 },
  clientMaxWindowBits: { kind: "integer", min: 9, max: 15 },
};

/** The rules of `PerMessageDeflateOptions`, for `resolveDeflateOptions` too. */
const DEFLATE: Rule = {
  kind: "object",
  shape: { rules: DEFLATE_RULES },
  what: "true, false or an object of permessage-deflate settings",
  orBoolean: true,
};

const SERVER_TLS_RULES: RulesFor<TlsCertificate> = {
  cert: { kind: "string", pem: true },
  key: { kind: "string", pem: true },
};

const CLIENT_TLS_RULES: RulesFor<ClientTlsOptions> = {
  caCerts: { kind: "strings", pem: true },
  serverName: { kind: "string", check: (name) => name.length > 0, form: "a non-empty host name" },
};

/** The methods of the Backplane interface (`satisfies` keeps the list in step with it). */
const BACKPLANE_METHODS = [
  "attach",
  "subscribe",
  "unsubscribe",
  "publish",
  "close",
] as const satisfies readonly (keyof Backplane)[];

/** A rate: more than nothing (0 would refuse everything), up to a generous billion a second. */
const rate = (unit: string): Rule => ({ kind: "number", min: 1e-6, max: 1e9, unit });
/** A burst of at least one (a smaller bucket never holds a whole message). */
const burst = (unit: string): Rule => ({ kind: "number", min: 1, max: 1e12, unit });

const RATE_LIMIT_RULES: RulesFor<RateLimit> = {
  messagesPerSecond: rate("messages per second"),
  messageBurst: burst("messages"),
  bytesPerSecond: rate("bytes per second"),
  byteBurst: burst("bytes"),
  exceeded: {
    kind: "string",
    check: (value) => value === "drop" || value === "close",
    form: '"drop" or "close"',
  },
};

const SIGNAL: Rule = { kind: "instance", of: () => AbortSignal, what: "an AbortSignal" };
const PROTOCOLS: Rule = { kind: "strings", token: true };

const SERVE_RULES: RulesFor<ServeOptions<unknown>> = {
  ...CONNECTION_RULES,
  hostname: {
    kind: "string",
    check: isHostname,
    form: "a host name or IP address, without a scheme or port",
  },
  port: {
    kind: "integer",
    min: 0,
    max: 65535,
    note: "0 picks a free port",
    typeHint: "convert a port from the environment with Number()",
  },
  tls: {
    kind: "object",
    shape: { rules: SERVER_TLS_RULES },
    what: "{ cert, key }",
    required: ["cert", "key"],
  },
  reusePort: { kind: "boolean" },
  protocols: PROTOCOLS,
  upgrade: { kind: "function" },
  fetch: { kind: "function" },
  websocket: { kind: "handler", shape: HANDLER },
  maxHeaderBytes: { kind: "integer", min: 1, unit: "bytes" },
  maxHeaderCount: { kind: "integer", min: 1 },
  maxBodyBytes: { kind: "integer", min: 0, unit: "bytes" },
  handshakeTimeout: ms(1),
  bodyTimeout: ms(1),
  maxConnections: { kind: "integer", min: 0, orInfinity: true },
  signal: SIGNAL,
  onListen: { kind: "function" },
  perMessageDeflate: DEFLATE,
  backplane: { kind: "methods", names: BACKPLANE_METHODS, what: "a Backplane" },
  rateLimit: {
    kind: "object",
    shape: { rules: RATE_LIMIT_RULES },
    what: "{ messagesPerSecond, bytesPerSecond, messageBurst, byteBurst, exceeded }",
    oneOf: ["messagesPerSecond", "bytesPerSecond"],
  },
};

const SERVE: Shape = {
  rules: SERVE_RULES,
  hints: {
    ...Object.fromEntries(Object.keys(HANDLER_RULES).map((name) => [name, CALLBACKS_HINT])),
    timeout: "that is connect()'s; a server has handshakeTimeout, idleTimeout and closeTimeout",
    headers: "that is connect()'s; add response headers from the upgrade hook",
    maxPayloadLength: { mean: "maxPayload" },
    sendPings: { mean: "idlePing" },
    verifyClient: "did you mean upgrade? It refuses a request by returning a Response",
    handleProtocols: "did you mean protocols, or the upgrade hook?",
    headersTimeout: { mean: "handshakeTimeout" },
    requestTimeout:
      "that is Node's; here handshakeTimeout covers the request head, bodyTimeout the body",
    cert: "did you mean tls: { cert, key }?",
    key: "did you mean tls: { cert, key }?",
  },
};

const CONNECT_RULES: RulesFor<ConnectOptions<unknown>> = {
  ...CONNECTION_RULES,
  protocols: PROTOCOLS,
  headers: { kind: "headers" },
  timeout: ms(1),
  signal: SIGNAL,
  tls: {
    kind: "object",
    shape: { rules: CLIENT_TLS_RULES, hints: { ca: { mean: "caCerts" } } },
    what: "{ caCerts, serverName }",
  },
  websocket: { kind: "handler", shape: HANDLER },
  data: { kind: "any" },
  maxHeaderBytes: { kind: "integer", min: 1, unit: "bytes" },
  perMessageDeflate: DEFLATE,
};

const CONNECT: Shape = {
  rules: CONNECT_RULES,
  hints: {
    ...Object.fromEntries(Object.keys(HANDLER_RULES).map((name) => [name, CALLBACKS_HINT])),
    hostname: "connect() takes the host in the URL",
    port: "connect() takes the port in the URL",
    handshakeTimeout: "did you mean timeout? It covers connecting and the handshake",
    protocol: { mean: "protocols" },
    maxPayloadLength: { mean: "maxPayload" },
  },
};

/** Checks the options of `serve()`. Throws a TypeError or RangeError naming the bad option. */
export function checkServeOptions(options: unknown): void {
  checkRoot("serve()", options, SERVE);
}

/** Checks the URL and options of `connect()`, as {@link checkServeOptions} does. */
export function checkConnectOptions(url: unknown, options: unknown): void {
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(`connect(): the URL must be a string or a URL, got ${describe(url, true)}`);
  }
  checkRoot(
    "connect()",
    options,
    CONNECT,
    Array.isArray(options) || typeof options === "string"
      // `new WebSocket(url, protocols)` takes the subprotocols second; connect() takes options.
      ? "subprotocols go in { protocols: [...] }"
      : undefined,
  );
}

/** Checks permessage-deflate options on their own (for `resolveDeflateOptions`). */
export function checkDeflateOptions(options: unknown): void {
  check("", "perMessageDeflate", options, DEFLATE);
}

function checkRoot(api: string, options: unknown, shape: Shape, hint?: string): void {
  if (!isObject(options) || Array.isArray(options)) {
    throw new TypeError(
      `${api} takes an object of options, got ${describe(options, true)}` +
        (hint === undefined ? "" : ` (${hint})`),
    );
  }
  checkShape(`${api}: `, "", options, shape, true);
}

/**
 * Checks every rule of `shape` against `value`'s properties; with `closed`, an own enumerable
 * property that has no rule is an unknown option.
 */
function checkShape(
  prefix: string,
  path: string,
  value: Record<string, unknown>,
  shape: Shape,
  closed: boolean,
): void {
  if (closed) {
    for (const name of Object.keys(value)) {
      if (Object.hasOwn(shape.rules, name)) continue;
      const hint = shape.hints?.[name] ?? suggest(name, Object.keys(shape.rules));
      const remark = hint === undefined
        ? ""
        : typeof hint === "string"
        ? ` (${hint})`
        : ` (did you mean ${path}${hint.mean}?)`;
      throw new TypeError(`${prefix}unknown option ${path}${name}${remark}`);
    }
  }
  for (const [name, rule] of Object.entries(shape.rules)) {
    check(prefix, path + name, value[name], rule);
  }
}

/** Checks one value against its rule; `undefined` is always allowed (the default applies). */
function check(prefix: string, name: string, value: unknown, rule: Rule): void {
  if (value === undefined) return;
  const fail = (
    ErrorClass: typeof TypeError | typeof RangeError,
    expected: string,
    withType: boolean,
    hint?: string,
  ): never => {
    throw new ErrorClass(
      `${prefix}${name} must be ${expected}, got ${describe(value, withType)}` +
        (hint === undefined ? "" : ` (${hint})`),
    );
  };
  switch (rule.kind) {
    case "integer": {
      const max = rule.max ?? Number.MAX_SAFE_INTEGER;
      const noun = rule.unit === undefined ? "an integer" : `a whole number of ${rule.unit}`;
      const expected =
        (rule.max === undefined
          ? `${noun}, at least ${rule.min}`
          : `${noun} from ${rule.min} to ${rule.max}`) + (rule.orInfinity ? ", or Infinity" : "");
      if (typeof value !== "number") {
        return fail(TypeError, expected, true, rule.typeHint ?? rule.note);
      }
      if (rule.orInfinity && value === Infinity) return;
      if (!Number.isSafeInteger(value) || value < rule.min || value > max) {
        return fail(RangeError, expected, false, rule.note);
      }
      return;
    }
    case "number": {
      const expected = `a number of ${rule.unit} from ${rule.min} to ${rule.max}`;
      if (typeof value !== "number") return fail(TypeError, expected, true, rule.note);
      if (!Number.isFinite(value) || value < rule.min || value > rule.max) {
        return fail(RangeError, expected, false, rule.note);
      }
      return;
    }
    case "boolean":
      if (typeof value !== "boolean") fail(TypeError, "true or false", true);
      return;
    case "function":
      if (typeof value !== "function") fail(TypeError, "a function", true);
      return;
    case "string": {
      const expected = rule.pem ? 'PEM text ("-----BEGIN ...")' : rule.form ?? "a string";
      if (typeof value !== "string") return fail(TypeError, expected, true);
      if (rule.pem && !isPem(value)) {
        return fail(TypeError, expected, true, "pass the file's contents, not its path");
      }
      if (rule.check !== undefined && !rule.check(value)) return fail(TypeError, expected, true);
      return;
    }
    case "strings": {
      const element = rule.pem ? "PEM text" : rule.token ? "subprotocol names (tokens)" : "strings";
      const expected = `an array of ${element}`;
      if (!Array.isArray(value)) return fail(TypeError, expected, true);
      value.forEach((item, i) => {
        const itemRule: Rule = rule.pem
          ? { kind: "string", pem: true }
          : rule.token
          ? { kind: "string", check: isToken, form: "a token (letters, digits, !#$%&'*+-.^_`|~)" }
          : { kind: "string" };
        check(prefix, `${name}[${i}]`, item, itemRule);
        if (rule.token && value.indexOf(item) !== i) {
          throw new TypeError(
            `${prefix}${name} must not repeat a subprotocol, got ${describe(item, false)} twice`,
          );
        }
      });
      return;
    }
    case "object": {
      if (rule.orBoolean && typeof value === "boolean") return;
      const expected = rule.orBoolean ? rule.what : `an object ${rule.what}`;
      if (!isObject(value) || Array.isArray(value)) return fail(TypeError, expected, true);
      for (const field of rule.required ?? []) {
        if (value[field] === undefined) {
          throw new TypeError(
            `${prefix}${name}.${field} is required (${name} must be ${expected})`,
          );
        }
      }
      if (rule.oneOf !== undefined && rule.oneOf.every((field) => value[field] === undefined)) {
        throw new TypeError(
          `${prefix}${name} needs ${rule.oneOf.join(" or ")} (${name} must be ${expected})`,
        );
      }
      checkShape(prefix, `${name}.`, value, rule.shape, true);
      return;
    }
    case "handler": {
      const names = Object.keys(rule.shape.rules).join(", ");
      if (!isObject(value) || Array.isArray(value)) {
        return fail(TypeError, `an object of callbacks (${names})`, true);
      }
      // A class instance may carry its own state next to its methods: only a plain object
      // literal is held to the callback names.
      checkShape(prefix, `${name}.`, value, rule.shape, isPlainObject(value));
      return;
    }
    case "methods": {
      const expected = `${rule.what}: an object with ${listOf(rule.names.map((m) => `${m}()`))}`;
      if (!isObject(value)) return fail(TypeError, expected, true);
      const missing = rule.names.filter((method) => typeof value[method] !== "function");
      if (missing.length > 0) {
        throw new TypeError(
          `${prefix}${name} must be ${expected}, got ${describe(value, false)} without ` +
            listOf(missing.map((m) => `${m}()`)),
        );
      }
      return;
    }
    case "instance":
      if (!(value instanceof rule.of())) fail(TypeError, rule.what, true);
      return;
    case "headers":
      try {
        new Headers(value as HeadersInit);
      } catch (error) {
        throw new TypeError(
          `${prefix}${name} must be a Headers, an array of [name, value] pairs or an object ` +
            `of header values, got ${describe(value, true)}`,
          { cause: error },
        );
      }
      return;
    case "any":
      return;
  }
}

// ------------------------------------------------------------------------------------ helpers

function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isPem(value: string): boolean {
  return value.includes("-----BEGIN ");
}

/** A host name or IP address: no scheme, path, port or whitespace. IPv6 has colons, no dots. */
function isHostname(value: string): boolean {
  if (value.length === 0 || /[\s/@?#]/.test(value)) return false;
  const colons = value.split(":").length - 1;
  // "localhost:8080" or "127.0.0.1:8080": a port belongs in `port`. Bare IPv6 has two or more.
  return colons !== 1;
}

/** "a, b and c". */
function listOf(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/**
 * A value as the message shows it: numbers and short strings as written (strings quoted),
 * other things by kind. `withType` adds the type, for "must be a number, got "8080" (a string)".
 */
function describe(value: unknown, withType: boolean): string {
  switch (typeof value) {
    case "number":
      return withType ? `${value} (a number)` : String(value);
    case "bigint":
      return `${value}n (a bigint)`;
    case "string": {
      const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
      return withType ? `${shown} (a string)` : shown;
    }
    case "boolean":
      return withType ? `${value} (a boolean)` : String(value);
    case "undefined":
      return "undefined";
    case "symbol":
      return String(value);
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return shortJson(value) ?? "an array";
  if (isPlainObject(value as object)) {
    // JSON would leave out functions and show `{ message() {} }` as "{}".
    const simple = Object.values(value as object).every((v) =>
      v === null || typeof v !== "object" && typeof v !== "function"
    );
    return (simple ? shortJson(value) : undefined) ?? "an object";
  }
  const constructorName = (value as object).constructor?.name;
  return constructorName
    ? `a${/^[AEIOU]/.test(constructorName) ? "n" : ""} ${constructorName}`
    : "an object";
}

/** Compact JSON for small arrays and objects, or undefined when it would not help. */
function shortJson(value: unknown): string | undefined {
  try {
    const json = JSON.stringify(value);
    return json !== undefined && json.length <= 60 ? json : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The known name `name` is probably a misspelling of: the same letters in another case, a few
 * typing mistakes away (edit distance, case-blind, up to a third of the name's length), or
 * failing that a known name that starts with it.
 */
function suggest(name: string, known: string[]): { mean: string } | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3));
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= bestDistance && (best === undefined || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  best ??= lower.length >= 4
    ? known.find((candidate) => candidate.toLowerCase().startsWith(lower))
    : undefined;
  return best === undefined ? undefined : { mean: best };
}

/** Edit distance, with a swap of two neighbouring letters as one edit ("levle" is 1 from "level"). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => {
    const row = new Array<number>(b.length + 1).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
