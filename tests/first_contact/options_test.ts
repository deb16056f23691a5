/**
 * A newcomer's mistakes in the options of `serve()` and `connect()`: each one throws (or, for
 * `connect`, rejects) at once, with a TypeError or RangeError whose message names the option, the
 * value given and what is allowed, instead of a server that fails every connection. One case per
 * mistake from issue 11 and at least one per rule of the validator (src/options.ts); then the
 * other side: valid options, every one of them set, still make a working server and client.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type Backplane,
  connect,
  type ConnectOptions,
  type Message,
  serve,
  type ServeOptions,
  type WebSocketConnection,
  type WebSocketServer,
} from "../../mod.ts";
import { resolveDeflateOptions } from "../../src/handshake/permessage_deflate.ts";
import { TLS_CA, TLS_CERT, TLS_KEY } from "../helpers/tls.ts";

/** A mistake, the error class it must throw, and the exact message. */
type Case = [label: string, options: unknown, errorClass: typeof TypeError, message: string];

const MS = "a number of milliseconds from 0 to 2147483647";

const SERVE_CASES: Case[] = [
  // The mistakes in the issue.
  [
    "a negative maxPayload",
    { maxPayload: -1 },
    RangeError,
    "serve(): maxPayload must be a whole number of bytes, at least 1, got -1",
  ],
  [
    "a negative backpressureLimit",
    { backpressureLimit: -5 },
    RangeError,
    "serve(): backpressureLimit must be a whole number of bytes, at least 0, got -5",
  ],
  [
    "a message callback that is not a function",
    { websocket: { message: 42 } },
    TypeError,
    "serve(): websocket.message must be a function, got 42 (a number)",
  ],
  [
    "an upgrade hook that is not a function",
    { upgrade: 1 },
    TypeError,
    "serve(): upgrade must be a function, got 1 (a number)",
  ],
  [
    "idleTimeout: NaN",
    { idleTimeout: NaN },
    RangeError,
    `serve(): idleTimeout must be ${MS}, got NaN (0 turns it off)`,
  ],
  [
    "a misspelt option",
    { maxPayLoad: 1024 },
    TypeError,
    "serve(): unknown option maxPayLoad (did you mean maxPayload?)",
  ],
  [
    "reusePort that is not a boolean",
    { reusePort: "yes" },
    TypeError,
    'serve(): reusePort must be true or false, got "yes" (a string)',
  ],
  [
    "a backplane without all of its methods",
    { backplane: { attach() {}, publish() {} } },
    TypeError,
    "serve(): backplane must be a Backplane: an object with attach(), subscribe(), " +
    "unsubscribe(), publish() and close(), got an object without subscribe(), unsubscribe() " +
    "and close()",
  ],
  // integer: wrong type (with its hint), out of range, a fraction, beyond safe integers.
  [
    "a port from the environment, as a string",
    { port: "8080" },
    TypeError,
    'serve(): port must be an integer from 0 to 65535, got "8080" (a string) ' +
    "(convert a port from the environment with Number())",
  ],
  [
    "a port above 65535",
    { port: 70000 },
    RangeError,
    "serve(): port must be an integer from 0 to 65535, got 70000 (0 picks a free port)",
  ],
  [
    "a fractional count",
    { maxFragments: 1.5 },
    RangeError,
    "serve(): maxFragments must be an integer, at least 1, got 1.5",
  ],
  [
    "an integer beyond 2^53",
    { maxFrameSize: 2 ** 53 },
    RangeError,
    "serve(): maxFrameSize must be a whole number of bytes, at least 1, got 9007199254740992",
  ],
  [
    "Infinity where it is not allowed",
    { maxPayload: Infinity },
    RangeError,
    "serve(): maxPayload must be a whole number of bytes, at least 1, got Infinity",
  ],
  [
    "a negative maxConnections (Infinity is allowed)",
    { maxConnections: -1 },
    RangeError,
    "serve(): maxConnections must be an integer, at least 0, or Infinity, got -1",
  ],
  // rateLimit: a rate is needed, rates are positive, the policy is one of two.
  [
    "a rateLimit without a rate",
    { rateLimit: { messageBurst: 10 } },
    TypeError,
    "serve(): rateLimit needs messagesPerSecond or bytesPerSecond (rateLimit must be an object " +
    "{ messagesPerSecond, bytesPerSecond, messageBurst, byteBurst, exceeded })",
  ],
  [
    "a rate of 0",
    { rateLimit: { messagesPerSecond: 0 } },
    RangeError,
    "serve(): rateLimit.messagesPerSecond must be a number of messages per second from " +
    "0.000001 to 1000000000, got 0",
  ],
  [
    "an unknown rateLimit policy",
    { rateLimit: { bytesPerSecond: 1024, exceeded: "kick" } },
    TypeError,
    'serve(): rateLimit.exceeded must be "drop" or "close", got "kick" (a string)',
  ],
  // number (timers): beyond setTimeout's limit, negative, wrong type.
  [
    "a timer beyond setTimeout's limit",
    { heartbeatInterval: 2 ** 31 },
    RangeError,
    `serve(): heartbeatInterval must be ${MS}, got 2147483648 (0 turns it off)`,
  ],
  [
    "a negative closeTimeout",
    { closeTimeout: -1 },
    RangeError,
    `serve(): closeTimeout must be ${MS}, got -1`,
  ],
  [
    "a handshakeTimeout of 0",
    { handshakeTimeout: 0 },
    RangeError,
    "serve(): handshakeTimeout must be a number of milliseconds from 1 to 2147483647, got 0",
  ],
  [
    "a timer as a string",
    { closeTimeout: "5s" },
    TypeError,
    `serve(): closeTimeout must be ${MS}, got "5s" (a string)`,
  ],
  // boolean, function.
  [
    "idlePing: 1",
    { idlePing: 1 },
    TypeError,
    "serve(): idlePing must be true or false, got 1 (a number)",
  ],
  [
    "a fetch handler that is not a function",
    { fetch: "index.html" },
    TypeError,
    'serve(): fetch must be a function, got "index.html" (a string)',
  ],
  // string: wrong type, wrong form, PEM.
  [
    "a hostname that is a number",
    { hostname: 127 },
    TypeError,
    "serve(): hostname must be a host name or IP address, without a scheme or port, got 127 " +
    "(a number)",
  ],
  [
    "a hostname with a port",
    { hostname: "localhost:8080" },
    TypeError,
    "serve(): hostname must be a host name or IP address, without a scheme or port, got " +
    '"localhost:8080" (a string)',
  ],
  [
    "a hostname that is a URL",
    { hostname: "http://localhost" },
    TypeError,
    "serve(): hostname must be a host name or IP address, without a scheme or port, got " +
    '"http://localhost" (a string)',
  ],
  [
    "a certificate's path instead of its contents",
    { tls: { cert: "./cert.pem", key: TLS_KEY } },
    TypeError,
    'serve(): tls.cert must be PEM text ("-----BEGIN ..."), got "./cert.pem" (a string) ' +
    "(pass the file's contents, not its path)",
  ],
  // object: required field, null, nested unknown option with its suggestion, boolean-or-object.
  [
    "tls without its key",
    { tls: { cert: TLS_CERT } },
    TypeError,
    "serve(): tls.key is required (tls must be an object { cert, key })",
  ],
  ["tls: null", { tls: null }, TypeError, "serve(): tls must be an object { cert, key }, got null"],
  [
    "a misspelt nested option",
    { perMessageDeflate: { levle: 3 } },
    TypeError,
    "serve(): unknown option perMessageDeflate.levle (did you mean perMessageDeflate.level?)",
  ],
  [
    "a deflate level out of range",
    { perMessageDeflate: { level: 10 } },
    RangeError,
    "serve(): perMessageDeflate.level must be an integer from 0 to 9, got 10",
  ],
  [
    "a window of 8 bits",
    { perMessageDeflate: { serverMaxWindowBits: 8 } },
    RangeError,
    "serve(): perMessageDeflate.serverMaxWindowBits must be an integer from 9 to 15, got 8",
  ],
  [
    "perMessageDeflate as a string",
    { perMessageDeflate: "on" },
    TypeError,
    "serve(): perMessageDeflate must be true, false or an object of permessage-deflate " +
    'settings, got "on" (a string)',
  ],
  // strings: not an array, not a token, repeated.
  [
    "protocols as one string",
    { protocols: "chat" },
    TypeError,
    'serve(): protocols must be an array of subprotocol names (tokens), got "chat" (a string)',
  ],
  [
    "a protocol that is not a token",
    { protocols: ["chat", "a b"] },
    TypeError,
    'serve(): protocols[1] must be a token (letters, digits, !#$%&\'*+-.^_`|~), got "a b" ' +
    "(a string)",
  ],
  [
    "a repeated protocol",
    { protocols: ["chat", "chat"] },
    TypeError,
    'serve(): protocols must not repeat a subprotocol, got "chat" twice',
  ],
  // handler: not an object, a browser-style name, the callbacks outside `websocket`.
  [
    "websocket: a function",
    { websocket: 42 },
    TypeError,
    "serve(): websocket must be an object of callbacks (open, message, drain, ping, pong, " +
    "close, error, rateLimited), got 42 (a number)",
  ],
  [
    "a browser-style callback name",
    { websocket: { onmessage() {} } },
    TypeError,
    "serve(): unknown option websocket.onmessage (did you mean websocket.message?)",
  ],
  [
    "the callbacks outside websocket",
    { message() {} },
    TypeError,
    "serve(): unknown option message (callbacks go in the websocket option: " +
    "websocket: { message(ws, data) {} })",
  ],
  // instance, and unknown options with and without a hint.
  [
    "a signal that is not an AbortSignal",
    { signal: { aborted: false } },
    TypeError,
    'serve(): signal must be an AbortSignal, got {"aborted":false}',
  ],
  [
    "a client option on the server",
    { timeout: 5000 },
    TypeError,
    "serve(): unknown option timeout (that is connect()'s; a server has handshakeTimeout, " +
    "idleTimeout and closeTimeout)",
  ],
  [
    "the start of an option's name",
    { heartbeat: 1000 },
    TypeError,
    "serve(): unknown option heartbeat (did you mean heartbeatInterval?)",
  ],
  ["an unknown option", { verbose: true }, TypeError, "serve(): unknown option verbose"],
  // Not an object at all.
  [
    "a port instead of the options",
    8080,
    TypeError,
    "serve() takes an object of options, got 8080 (a number)",
  ],
];

const URL_NEVER_DIALLED = "ws://127.0.0.1:9/";

const CONNECT_CASES: Case[] = [
  [
    "a timeout of 0",
    { timeout: 0 },
    RangeError,
    "connect(): timeout must be a number of milliseconds from 1 to 2147483647, got 0",
  ],
  [
    "a timeout of Infinity",
    { timeout: Infinity },
    RangeError,
    "connect(): timeout must be a number of milliseconds from 1 to 2147483647, got Infinity",
  ],
  [
    "the shared limits are checked on the client too",
    { maxPayload: -1 },
    RangeError,
    "connect(): maxPayload must be a whole number of bytes, at least 1, got -1",
  ],
  [
    "a CA certificate's path",
    { tls: { caCerts: ["ca.pem"] } },
    TypeError,
    'connect(): tls.caCerts[0] must be PEM text ("-----BEGIN ..."), got "ca.pem" (a string) ' +
    "(pass the file's contents, not its path)",
  ],
  [
    "a CA as one string",
    { tls: { caCerts: TLS_CA } },
    TypeError,
    "connect(): tls.caCerts must be an array of PEM text, got " +
    JSON.stringify(TLS_CA.slice(0, 57) + "...") + " (a string)",
  ],
  [
    "Node's name for the CA option",
    { tls: { ca: [TLS_CA] } },
    TypeError,
    "connect(): unknown option tls.ca (did you mean tls.caCerts?)",
  ],
  [
    "headers that are not headers",
    { headers: 5 },
    TypeError,
    "connect(): headers must be a Headers, an array of [name, value] pairs or an object of " +
    "header values, got 5 (a number)",
  ],
  [
    "a port option (it goes in the URL)",
    { port: 8080 },
    TypeError,
    "connect(): unknown option port (connect() takes the port in the URL)",
  ],
  [
    "protocol instead of protocols",
    { protocol: "chat" },
    TypeError,
    "connect(): unknown option protocol (did you mean protocols?)",
  ],
  [
    "an empty serverName",
    { tls: { serverName: "" } },
    TypeError,
    'connect(): tls.serverName must be a non-empty host name, got "" (a string)',
  ],
  [
    "a pong callback that is not a function",
    { websocket: { pong: true } },
    TypeError,
    "connect(): websocket.pong must be a function, got true (a boolean)",
  ],
  [
    "subprotocols where the options go, as for new WebSocket(url, protocols)",
    ["chat"],
    TypeError,
    'connect() takes an object of options, got ["chat"] (subprotocols go in { protocols: [...] })',
  ],
];

describe("serve(): a bad option throws at once, naming the option and the value", () => {
  for (const [label, options, errorClass, message] of SERVE_CASES) {
    test(label, () => {
      // On 127.0.0.1 and a free port (unless the case is about those), so that a regression
      // that lets a bad option through starts nothing on 0.0.0.0:8080.
      const withAddress = typeof options === "object" && options !== null
        ? { hostname: "127.0.0.1", port: 0, ...options }
        : options;
      assert.throws(
        () => serve(withAddress as ServeOptions).stop(),
        (error: Error) => {
          assert.equal(error.constructor, errorClass, `${error.name}: ${error.message}`);
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }
});

describe("connect(): a bad option rejects before connecting", () => {
  for (const [label, options, errorClass, message] of CONNECT_CASES) {
    test(label, async () => {
      await assert.rejects(
        connect(URL_NEVER_DIALLED, options as ConnectOptions),
        (error: Error) => {
          assert.equal(error.constructor, errorClass, `${error.name}: ${error.message}`);
          assert.equal(error.message, message);
          return true;
        },
      );
    });
  }

  test("a URL of the wrong type, and one that does not parse", async () => {
    await assert.rejects(
      connect(42 as unknown as string),
      new TypeError("connect(): the URL must be a string or a URL, got 42 (a number)"),
    );
    // The runtimes' own words differ ("Invalid URL: 'chat server'" and "Invalid URL").
    await assert.rejects(connect("chat server"), (error: Error) => {
      assert.ok(error instanceof SyntaxError, String(error));
      assert.equal(error.message, 'connect(): "chat server" is not a valid URL');
      assert.ok(error.cause instanceof TypeError, "the runtime's error is the cause");
      return true;
    });
  });
});

describe("the deflate options on their own", () => {
  test("resolveDeflateOptions uses the same rules", () => {
    assert.throws(
      () => resolveDeflateOptions({ memLevel: 0 }),
      new RangeError("perMessageDeflate.memLevel must be an integer from 1 to 9, got 0"),
    );
  });
});

describe("valid options still make a working server and client", () => {
  const servers: WebSocketServer<{ name: string }>[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });

  /** A handler as a class, with state of its own next to its callbacks: not an unknown option. */
  class Recorder {
    readonly received: Message[] = [];
    message(ws: WebSocketConnection<{ name: string }>, message: Message) {
      this.received.push(message);
      ws.send(typeof message === "string" ? `${ws.data.name}: ${message}` : message);
    }
  }

  /** A backplane that carries nothing: enough for the server to accept it. */
  const quietBackplane: Backplane = {
    attach() {},
    subscribe() {},
    unsubscribe() {},
    publish() {},
    close: () => Promise.resolve(),
  };

  test("every option set, over TLS, with compression: a round trip", async () => {
    const recorder = new Recorder();
    const controller = new AbortController();
    let listening = false;
    const server = serve<{ name: string }>({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: TLS_CERT, key: TLS_KEY },
      reusePort: undefined, // undefined is "not given"
      protocols: ["chat", "superchat"],
      upgrade: (_request, { protocols }) => ({ protocol: protocols[0], data: { name: "edgews" } }),
      fetch: () => new Response("a page"),
      websocket: recorder,
      maxHeaderBytes: 8 * 1024,
      maxHeaderCount: 50,
      maxBodyBytes: 0,
      handshakeTimeout: 5_000,
      maxConnections: Infinity,
      signal: controller.signal,
      onListen: () => listening = true,
      perMessageDeflate: { level: 6, memLevel: 9, threshold: 0, clientNoContextTakeover: true },
      backplane: quietBackplane,
      rateLimit: {
        messagesPerSecond: 0.5,
        messageBurst: 3,
        bytesPerSecond: 1e6,
        exceeded: "close",
      },
      maxPayload: 1024 * 1024,
      maxFragments: 100,
      closeTimeout: 1_000,
      backpressureLimit: 0,
      closeOnBackpressureLimit: false,
      maxFrameSize: 1024 * 1024,
      idleTimeout: 0,
      idlePing: false,
      heartbeatInterval: 0,
      messageQueueLength: 0,
    });
    servers.push(server);
    assert.ok(listening);

    const messages: Message[] = [];
    let gotMessage!: () => void;
    const arrived = new Promise<void>((resolve) => gotMessage = resolve);
    const ws = await connect<string>(`wss://127.0.0.1:${server.port}/`, {
      protocols: ["chat"],
      headers: [["x-client", "first-contact"]],
      timeout: 5_000,
      signal: new AbortController().signal,
      tls: { caCerts: [TLS_CA], serverName: "localhost" },
      websocket: {
        message(_ws, message) {
          messages.push(message);
          gotMessage();
        },
      },
      data: "anything at all",
      maxHeaderBytes: 4096,
      perMessageDeflate: true,
      maxPayload: 2 ** 20,
      idleTimeout: 60_000,
      messageQueueLength: 4,
    });
    assert.equal(ws.protocol, "chat");
    assert.match(ws.extensions, /^permessage-deflate/);
    assert.equal(ws.data, "anything at all");
    ws.send("hello");
    await arrived;
    assert.deepEqual(messages, ["edgews: hello"]);
    assert.deepEqual(recorder.received, ["hello"]);
    ws.close(1000, "done");
    // The server echoes the code (RFC 6455 §5.5.1), without a reason.
    assert.deepEqual(await ws.closed, { code: 1000, reason: "", wasClean: true });
    controller.abort(); // the signal shuts the server down
    await server.finished;
  });

  test("http:// is taken as ws://, as browsers do", async () => {
    const server = serve<{ name: string }>({
      hostname: "127.0.0.1",
      port: 0,
      websocket: new Recorder(),
      upgrade: () => ({ data: { name: "plain" } }),
    });
    servers.push(server);
    const ws = await connect(`http://127.0.0.1:${server.port}/`);
    ws.send("over http://");
    for await (const message of ws) {
      assert.equal(message, "plain: over http://");
      break;
    }
    ws.close(1000);
    await ws.closed;
  });
});
