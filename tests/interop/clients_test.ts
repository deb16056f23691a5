/**
 * edgews against WebSocket clients nobody here wrote: the test runtime's own `WebSocket`
 * in-process, the other runtimes' `WebSocket`s in child processes, and `ws` on Node in a child
 * process. The server runs in-process (Deno under `deno test`, Bun under `bun test`, Node under
 * `node --test`), so the three runners together pair each server with all four clients.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OTHER_RUNTIMES, RUNTIME, type Runtime } from "../helpers/servers.ts";
import {
  BIG_SIZE,
  bigText,
  binaryMessages,
  CLIENT_CLOSE_REASON,
  CLIENT_PING_PAYLOAD,
  hex as hexOf,
  pseudoRandomBytes,
  runScenario,
  SERVER_CLOSE_REASON,
  SERVER_PING_PAYLOAD,
  TEXT_MESSAGES,
} from "../peers/scenarios.mjs";
import { hex } from "../helpers/bytes.ts";
import type { RecordingServer } from "../helpers/recording_server.ts";
import {
  describe as describeMessage,
  type SeenMessage,
  startInteropServer,
} from "./_interop_server.ts";
import { within } from "../helpers/timing.ts";
import { killChildren } from "../helpers/processes.ts";
import { PEER_TIMEOUT, runPeer } from "./_peer.ts";

type ClientKind = Runtime | "ws";

interface Client {
  name: string;
  kind: ClientKind;
  run(url: string, scenario: string): Promise<unknown>;
}

interface CloseEventInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}

type Described = { type: "text"; text: string } | { type: "binary"; hex: string };

/** Deno's and Node's `WebSocket` have no `ping()` and do not surface pings; Bun's and ws do. */
const hasPingApi = (kind: ClientKind) => kind === "bun" || kind === "ws";

/**
 * A text message as the client's `message` event shows it. Node's `WebSocket` (undici) decodes
 * with TextDecoder's defaults, which drop a leading byte order mark (it does so against `ws` too;
 * the server check below still sees the BOM the client sent).
 */
const asReceivedBy = (kind: ClientKind, text: string) =>
  kind === "node" ? text.replace(/^\uFEFF/, "") : text;

const CLIENTS: Client[] = [
  {
    name: `${RUNTIME}'s WebSocket, in-process`,
    kind: RUNTIME,
    async run(url, scenario) {
      const result = await runScenario(globalThis.WebSocket, RUNTIME, url, scenario);
      return JSON.parse(JSON.stringify(result)); // the same shape as a child's output
    },
  },
  ...OTHER_RUNTIMES.map((runtime): Client => ({
    name: `${runtime}'s WebSocket, child process`,
    kind: runtime,
    run: (url, scenario) => runPeer(runtime, url, scenario),
  })),
  {
    name: "ws 8 on Node, child process",
    kind: "ws",
    run: (url, scenario) => runPeer("ws", url, scenario),
  },
];

/** Generous: a child runtime starts, and 16 MiB goes both ways. */
const TEST_TIMEOUT = PEER_TIMEOUT + 10_000;
/** How long the server may take to report a close after the client finished. */
const SERVER_WAIT = 20_000;

const encoder = new TextEncoder();
const hexText = (text: string) => hexOf(encoder.encode(text)) as string;

/** A clean close started by the client with 1000, as seen by the client. */
function assertNormalClose(close: CloseEventInfo) {
  assert.equal(close.code, 1000);
  assert.equal(close.wasClean, true);
}

function sha256(bytes: Uint8Array): Promise<SeenMessage> {
  return describeMessage(bytes);
}

for (const style of ["push", "pull"] as const) {
  describe(`interop, ${style}-style server on ${RUNTIME}`, () => {
    let server: RecordingServer<Promise<SeenMessage>>;
    before(() => {
      server = startInteropServer(style);
    });
    after(async () => {
      await killChildren();
      await server.server.stop();
    });

    /** What the server saw as messages on a connection, once it closed. */
    async function serverMessages(id: string): Promise<SeenMessage[]> {
      const record = server.record(id);
      await within(record.closeCallback, SERVER_WAIT, "the server's close callback");
      return Promise.all(record.messages);
    }

    for (const client of CLIENTS) {
      describe(client.name, () => {
        test("text round trip, including non-ASCII", { timeout: TEST_TIMEOUT }, async () => {
          const { url, id } = server.tag("/echo");
          const r = await client.run(url, "text") as {
            received: Described[];
            close: CloseEventInfo;
          };
          assert.deepEqual(
            r.received,
            TEXT_MESSAGES.map((text) => ({ type: "text", text: asReceivedBy(client.kind, text) })),
          );
          assertNormalClose(r.close);
          assert.deepEqual(
            await serverMessages(id),
            await Promise.all(TEXT_MESSAGES.map((m) => describeMessage(m))),
          );
        });

        test("binary round trip: binary stays binary, byte for byte", {
          timeout: TEST_TIMEOUT,
        }, async () => {
          const { url, id } = server.tag("/echo");
          const r = await client.run(url, "binary") as {
            received: Described[];
            close: CloseEventInfo;
          };
          const sent = binaryMessages() as Uint8Array[];
          assert.deepEqual(r.received, sent.map((b) => ({ type: "binary", hex: hexOf(b) })));
          assertNormalClose(r.close);
          assert.deepEqual(await serverMessages(id), await Promise.all(sent.map(sha256)));
        });

        test("a 16 MiB binary message", { timeout: TEST_TIMEOUT }, async () => {
          const { url, id } = server.tag("/echo");
          const r = await client.run(url, "big-binary") as {
            sent: { length: number; sha256: string };
            received: { type: string; length: number; sha256: string };
            close: CloseEventInfo;
          };
          const expected = await sha256(pseudoRandomBytes(BIG_SIZE, 16) as Uint8Array);
          assert.deepEqual(r.sent, { length: BIG_SIZE, sha256: expected.sha256 });
          assert.deepEqual(r.received, { type: "binary", ...r.sent });
          assertNormalClose(r.close);
          assert.deepEqual(await serverMessages(id), [expected]);
        });

        test("a 16 MiB text message of multi-byte UTF-8", { timeout: TEST_TIMEOUT }, async () => {
          const { url, id } = server.tag("/echo");
          const r = await client.run(url, "big-text") as {
            sent: { length: number; sha256: string };
            received: { type: string; length: number; sha256: string };
            close: CloseEventInfo;
          };
          const expected = await describeMessage(bigText() as string);
          assert.deepEqual(r.sent, { length: expected.length, sha256: expected.sha256 });
          assert.deepEqual(r.received, { type: "text", ...r.sent });
          assertNormalClose(r.close);
          assert.deepEqual(await serverMessages(id), [expected]);
        });

        test(
          "close from the client with 4000 and a reason",
          { timeout: TEST_TIMEOUT },
          async () => {
            const { url, id } = server.tag("/echo");
            const r = await client.run(url, "close-client") as {
              echo: Described;
              close: CloseEventInfo;
            };
            assert.deepEqual(r.echo, { type: "text", text: "before close" });
            // The server echoes the code (RFC 6455 §5.5.1), so the client sees 4000, cleanly.
            assert.equal(r.close.code, 4000);
            assert.equal(r.close.wasClean, true);
            const record = server.record(id);
            assert.deepEqual(
              await within(record.closeCallback, SERVER_WAIT, "the server's close callback"),
              { code: 4000, reason: CLIENT_CLOSE_REASON },
            );
            assert.deepEqual(await within(record.closed, SERVER_WAIT, "ws.closed"), {
              code: 4000,
              reason: CLIENT_CLOSE_REASON,
              wasClean: true,
            });
          },
        );

        if (style === "pull") return; // the rest is about the handler callbacks, not pulling

        test(
          "close from the server with 4000 and a reason",
          { timeout: TEST_TIMEOUT },
          async () => {
            const { url, id } = server.tag("/close-server");
            const r = await client.run(url, "close-server") as {
              received: Described[];
              close: CloseEventInfo;
            };
            assert.deepEqual(r.received, [{ type: "text", text: "closing" }]);
            assert.deepEqual(r.close, { code: 4000, reason: SERVER_CLOSE_REASON, wasClean: true });
            const record = server.record(id);
            const closed = await within(record.closed, SERVER_WAIT, "ws.closed");
            assert.equal(closed.wasClean, true, "the client answered with a close frame");
            assert.equal(closed.code, 4000, "the client echoed the code");
          },
        );

        test("subprotocol negotiation picks chat", { timeout: TEST_TIMEOUT }, async () => {
          const { url, id } = server.tag("/echo");
          const r = await client.run(url, "protocol") as {
            protocol: string;
            echo: Described;
            close: CloseEventInfo;
          };
          assert.equal(r.protocol, "chat");
          assert.deepEqual(r.echo, { type: "text", text: "which protocol?" });
          assertNormalClose(r.close);
          await serverMessages(id);
          assert.equal(server.record(id).protocol, "chat");
        });

        test("a server ping is answered by the client's automatic pong", {
          timeout: TEST_TIMEOUT,
        }, async () => {
          const { url, id } = server.tag("/server-ping");
          const r = await client.run(url, "server-ping") as {
            message: Described;
            pingsSeen: string[];
            close: CloseEventInfo;
          };
          const payload = hexText(SERVER_PING_PAYLOAD);
          assert.deepEqual(r.message, { type: "text", text: `pong:${payload}` });
          // Deno's and Node's clients do not surface pings; Bun's and ws do, with the payload.
          assert.deepEqual(r.pingsSeen, hasPingApi(client.kind) ? [payload] : []);
          assertNormalClose(r.close);
          await serverMessages(id);
          assert.deepEqual(server.record(id).pongs.map((pong) => hex(pong)), [payload]);
        });

        test("a client ping gets a pong with the same payload", {
          timeout: TEST_TIMEOUT,
        }, async () => {
          const { url, id } = server.tag("/echo");
          const r = await client.run(url, "client-ping") as {
            supported: boolean;
            pongPayload?: string;
            echo?: Described;
            close?: CloseEventInfo;
          };
          assert.equal(r.supported, hasPingApi(client.kind));
          if (!r.supported) return;
          assert.equal(r.pongPayload, hexText(CLIENT_PING_PAYLOAD));
          assert.deepEqual(r.echo, { type: "text", text: "after ping" });
          assertNormalClose(r.close!);
          assert.deepEqual(
            await serverMessages(id),
            [await describeMessage("after ping")],
          );
        });
      });
    }
  });
}
