/**
 * Who closes TCP after the closing handshake (RFC 6455 §7.1.1): the server, first. Our client,
 * against a raw server (node:net, in this process) that answers its close frame: when the server
 * closes TCP at once, `closed` resolves at once and clean; when the server keeps TCP open, the
 * client waits for it, and only at `closeTimeout` drops the connection itself (the same when the
 * server started the close). Our server, after answering a raw client's close frame, closes TCP
 * without waiting for the client to. Times are taken in this process, where both ends run.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type WebSocketConnection, type WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { within } from "../helpers/timing.ts";
import { startServer } from "../helpers/servers.ts";
import {
  clientFrame,
  closeCodeOf,
  closePayload,
  OP,
  type ServerFrame,
  text,
} from "../helpers/wire.ts";
import { type RawServer, startRawServer } from "./_raw_server.ts";

/** The client's closeTimeout where it matters: the drop must come at about this, no sooner. */
const CLOSE_TIMEOUT = 1_000;
/** The closeTimeout where it must not matter: everything must end long before it. */
const LONG_CLOSE_TIMEOUT = 5_000;

const serverFrame = (opcode: number, payload: Uint8Array) =>
  clientFrame(opcode, payload, { mask: false });

/** Asserts `value` is within [low, high], with a message naming it. */
function between(value: number, low: number, high: number, what: string): void {
  assert.ok(value >= low && value <= high, `${what}: ${value} ms, expected ${low}–${high} ms`);
}

/** What the raw server saw of one connection. */
interface PeerLog {
  /** The client's frames, in order. */
  frames: ServerFrame[];
  /** When the server sent its close frame. */
  closeSentAt: number;
  /** When the client closed TCP (FIN or reset), if it did before the server did. */
  clientEndedAt: number | null;
}

/**
 * A raw server for one connection: it sends a close frame (4002 "server bye") either first
 * (`initiate`) or in answer to the client's; then it either closes TCP (`closeTcp`) or keeps it
 * open, reading, until the client closes it.
 */
function closingServer(options: { initiate: boolean; closeTcp: boolean; answerDelay?: number }) {
  let resolveLog!: (log: PeerLog) => void;
  const log = new Promise<PeerLog>((resolve) => resolveLog = resolve);
  const server = startRawServer(async (peer) => {
    const entry: PeerLog = { frames: [], closeSentAt: 0, clientEndedAt: null };
    let serverClosed = false;
    const clientEnded = () => {
      if (!serverClosed) entry.clientEndedAt ??= Date.now();
    };
    peer.socket.on("end", clientEnded);
    peer.socket.on("close", clientEnded);
    await peer.accept();
    const sendClose = () => {
      peer.write(serverFrame(OP.close, closePayload(4002, "server bye")));
      entry.closeSentAt = Date.now();
      if (options.closeTcp) {
        serverClosed = true;
        peer.socket.end();
      }
    };
    if (options.initiate) sendClose();
    for (let frame = await peer.frame(); frame !== null; frame = await peer.frame()) {
      entry.frames.push(frame);
      if (frame.opcode === OP.close && !options.initiate) {
        if (options.answerDelay !== undefined) {
          setTimeout(sendClose, options.answerDelay);
        } else sendClose();
      }
    }
    resolveLog(entry);
  });
  return { server, log };
}

describe("the closing handshake: who closes TCP", () => {
  const rawServers: RawServer[] = [];
  const clients: WebSocketConnection[] = [];
  const servers: WebSocketServer[] = [];
  const rawClients: RawClient[] = [];
  after(async () => {
    for (const ws of clients) ws.terminate();
    for (const client of rawClients) client.destroy();
    for (const server of rawServers) await server.close();
    for (const server of servers) await server.stop();
  });

  /** Starts a closing server and connects our client to it. */
  async function open(
    options: { initiate: boolean; closeTcp: boolean; answerDelay?: number },
    closeTimeout: number,
  ) {
    const { server, log } = closingServer(options);
    const raw = await server;
    rawServers.push(raw);
    const ws = await within(connect(raw.url, { closeTimeout }), 10_000, "connect");
    clients.push(ws);
    const closedAt = ws.closed.then((info) => ({ info, at: Date.now() }));
    return { ws, log, closedAt, errors: raw.errors };
  }

  test(
    "the client closes, the server answers and keeps TCP open: the client waits, then drops it at closeTimeout",
    {
      timeout: 20_000,
    },
    async () => {
      const { ws, log, closedAt, errors } = await open(
        { initiate: false, closeTcp: false },
        CLOSE_TIMEOUT,
      );
      ws.close(1000, "client bye");
      const closed = await within(closedAt, 5 * CLOSE_TIMEOUT, "closed");
      const seen = await within(log, 5_000, "the raw server's log");
      const dropAfter = seen.clientEndedAt === null ? -1 : seen.clientEndedAt - seen.closeSentAt;
      console.log(
        `client-initiated, server keeps TCP: the client closed TCP ${dropAfter} ms after the ` +
          `server's close frame, closed resolved ${closed.at - seen.closeSentAt} ms after it`,
      );
      assert.deepEqual(errors, []);
      assert.deepEqual(seen.frames.map((f) => f.opcode), [OP.close]);
      assert.equal(closeCodeOf(seen.frames[0]), 1000);
      assert.equal(text(seen.frames[0].payload.subarray(2)), "client bye");
      assert.equal(seen.frames[0].masked, true);
      // Not at once (§7.1.1: the client waits for the server), but at closeTimeout.
      assert.notEqual(seen.clientEndedAt, null, "the client closed TCP");
      between(dropAfter, 0.8 * CLOSE_TIMEOUT, 2 * CLOSE_TIMEOUT, "the client closed TCP after");
      between(closed.at - seen.closeSentAt, 0.8 * CLOSE_TIMEOUT, 2 * CLOSE_TIMEOUT, "closed after");
      // Both close frames were exchanged: the server's code and reason, clean.
      assert.deepEqual(closed.info, { code: 4002, reason: "server bye", wasClean: true });
    },
  );

  test("the client closes, the server answers and closes TCP: closed resolves at once, clean", {
    timeout: 20_000,
  }, async () => {
    const { ws, log, closedAt, errors } = await open(
      { initiate: false, closeTcp: true },
      LONG_CLOSE_TIMEOUT,
    );
    ws.close(1000, "client bye");
    const closed = await within(closedAt, 2 * LONG_CLOSE_TIMEOUT, "closed");
    const seen = await within(log, 5_000, "the raw server's log");
    const after = closed.at - seen.closeSentAt;
    console.log(`client-initiated, server closes TCP: closed resolved ${after} ms after`);
    assert.deepEqual(errors, []);
    assert.deepEqual(seen.frames.map((f) => f.opcode), [OP.close]);
    assert.equal(seen.clientEndedAt, null, "the server closed TCP first");
    between(after, 0, 1_000, "closed after the server's close frame and FIN");
    assert.deepEqual(closed.info, { code: 4002, reason: "server bye", wasClean: true });
  });

  test(
    "the server closes and keeps TCP open after our answer: the client drops it at closeTimeout",
    {
      timeout: 20_000,
    },
    async () => {
      const { log, closedAt, errors } = await open(
        { initiate: true, closeTcp: false },
        CLOSE_TIMEOUT,
      );
      const closed = await within(closedAt, 5 * CLOSE_TIMEOUT, "closed");
      const seen = await within(log, 5_000, "the raw server's log");
      const dropAfter = seen.clientEndedAt === null ? -1 : seen.clientEndedAt - seen.closeSentAt;
      console.log(
        `server-initiated, server keeps TCP: the client closed TCP ${dropAfter} ms after`,
      );
      assert.deepEqual(errors, []);
      // The client echoed the code (RFC 6455 §5.5.1), then waited for the server to close TCP.
      assert.deepEqual(seen.frames.map((f) => f.opcode), [OP.close]);
      assert.equal(closeCodeOf(seen.frames[0]), 4002);
      assert.notEqual(seen.clientEndedAt, null, "the client closed TCP");
      between(dropAfter, 0.8 * CLOSE_TIMEOUT, 2 * CLOSE_TIMEOUT, "the client closed TCP after");
      assert.deepEqual(closed.info, { code: 4002, reason: "server bye", wasClean: true });
    },
  );

  test("our server answers a client's close frame and closes TCP itself, at once", {
    timeout: 20_000,
  }, async () => {
    const reports: Array<{ code: number; reason: string }> = [];
    let reported!: () => void;
    const closeReported = new Promise<void>((resolve) => reported = resolve);
    const server = startServer({
      closeTimeout: LONG_CLOSE_TIMEOUT,
      websocket: {
        close(_ws, code, reason) {
          reports.push({ code, reason });
          reported();
        },
      },
    });
    servers.push(server);
    const client = await RawClient.open(server.port);
    rawClients.push(client);
    client.write(clientFrame(OP.close, closePayload(1000, "raw bye")));
    const sentAt = Date.now();
    // The raw client never closes or half-closes its side: the end it sees is the server's.
    const frames = await client.readUntilClose(2 * LONG_CLOSE_TIMEOUT);
    const after = Date.now() - sentAt;
    console.log(`our server closed TCP ${after} ms after the client's close frame`);
    assert.deepEqual(frames.map((f) => f.opcode), [OP.close]);
    assert.equal(closeCodeOf(frames[0]), 1000);
    assert.equal(client.ended, true);
    between(after, 0, 1_000, "the server closed TCP after the client's close frame");
    // (On Deno the server half-closes and reads on until the client has closed too: its close
    // callback may come just after the client's end.)
    await within(closeReported, 2_000, "the server's close callback");
    assert.deepEqual(reports, [{ code: 1000, reason: "raw bye" }]);
  });

  test("one deadline for the whole close: a late answer does not extend it", {
    timeout: 20_000,
  }, async () => {
    const { ws, closedAt, errors } = await open(
      { initiate: false, closeTcp: false, answerDelay: 0.7 * CLOSE_TIMEOUT },
      CLOSE_TIMEOUT,
    );
    const closeAt = Date.now();
    ws.close(1000, "client bye");
    const closed = await within(closedAt, 5 * CLOSE_TIMEOUT, "closed");
    assert.deepEqual(errors, []);
    assert.deepEqual(closed.info, { code: 4002, reason: "server bye", wasClean: true });
    // Restarted by the answer, it would end at 1.7 × closeTimeout.
    between(closed.at - closeAt, 0.8 * CLOSE_TIMEOUT, 1.4 * CLOSE_TIMEOUT, "closed after close()");
  });

  test(
    "after its close frame, our server discards the peer's data, as WHATWG's CLOSING state does",
    {
      timeout: 20_000,
    },
    async () => {
      const messages: string[] = [];
      let reported!: (code: number) => void;
      const closeReported = new Promise<number>((resolve) => reported = resolve);
      const server = startServer({
        closeTimeout: LONG_CLOSE_TIMEOUT,
        websocket: {
          message(ws, message) {
            messages.push(String(message));
            if (message === "close now") ws.close(1000, "bye");
          },
          close(_ws, code) {
            reported(code);
          },
        },
      });
      servers.push(server);
      const client = await RawClient.open(server.port);
      rawClients.push(client);
      client.write(clientFrame(OP.text, "before"));
      client.write(clientFrame(OP.text, "close now"));
      const frame = await client.nextFrame();
      assert.equal(frame.opcode, OP.close);
      // Sent before this client read the close frame, as a real peer may.
      client.write(clientFrame(OP.text, "after the close frame"));
      client.write(clientFrame(OP.close, closePayload(1000)));
      await client.waitForEnd(LONG_CLOSE_TIMEOUT);
      assert.equal(await within(closeReported, 5_000, "the close callback"), 1000);
      assert.deepEqual(messages, ["before", "close now"]);
    },
  );
});
