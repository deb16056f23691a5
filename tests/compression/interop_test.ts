/**
 * permessage-deflate with real peers, each in a child process (killed in `after`, bounded by a
 * timeout): Chromium, the `ws` client and Bun's WebSocket client against our server; our client
 * against the `ws` server and Bun's native server. Every peer sends 0 B, 1 KiB, 1 MiB and 16 MiB
 * as text and as binary and checks the echoes, with and without context takeover. A relay between
 * the two counts the data frames with RSV1 in each direction, so "negotiated" means "compressed
 * on the wire", not only a response header.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect, type PerMessageDeflateOptions, type WebSocketServer } from "../../mod.ts";
import { killChildren, scriptCommand, startChild, startListener } from "../helpers/processes.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { type Sniffer, startSniffer } from "./_sniffer.ts";
import { fingerprint, messages } from "./peers/payloads.mjs";
import { skipName } from "../helpers/skip.ts";

const MODES: Record<string, PerMessageDeflateOptions> = {
  takeover: { threshold: 0 },
  "no-takeover": { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
};
const MESSAGE_COUNT = messages().length; // 8: four sizes, text and binary
const TIMEOUT = 100_000;

interface PeerResult {
  extensions?: string;
  results?: string[];
  code?: number;
  error?: string;
}

/** Runs a client peer to exit and parses its JSON line. */
function runClientPeer(
  runtime: "bun" | "node",
  script: string,
  args: string[],
): Promise<PeerResult> {
  const [command, argv] = scriptCommand(runtime, script, args);
  return startChild(command, argv, { deadlineMs: TIMEOUT }).report<PeerResult>(TIMEOUT);
}

function assertEchoes(result: PeerResult, wantExtensions: RegExp): void {
  assert.equal(result.error, undefined, String(result.error));
  assert.match(result.extensions ?? "", wantExtensions);
  assert.deepEqual(result.results, Array(MESSAGE_COUNT).fill("ok"));
  assert.equal(result.code, 1000);
}

/** Every message was compressed both ways: 7 non-empty ones at least (0 B may go either way). */
function assertCompressed(sniffer: Sniffer): void {
  assert.ok(
    sniffer.up.compressed >= MESSAGE_COUNT - 2,
    `client→server ${JSON.stringify(sniffer.up)}`,
  );
  assert.ok(
    sniffer.down.compressed >= MESSAGE_COUNT - 2,
    `server→client ${JSON.stringify(sniffer.down)}`,
  );
}

const noChromium = !existsSync("/usr/bin/chromium") &&
  "no Chromium at /usr/bin/chromium (apt-get install -y chromium)";

describe(`permessage-deflate interop (${RUNTIME})`, { timeout: 600_000 }, () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    await killChildren();
    for (const cleanup of cleanups) await cleanup();
  });

  async function ourServer(mode: string): Promise<{ server: WebSocketServer; sniffer: Sniffer }> {
    const server = startServer({ perMessageDeflate: MODES[mode] });
    const sniffer = await startSniffer(server.port);
    cleanups.push(() => sniffer.close(), () => server.stop());
    return { server, sniffer };
  }

  const expectedAnswer = (mode: string) =>
    mode === "takeover"
      ? /^permessage-deflate$/
      : /^permessage-deflate; server_no_context_takeover; client_no_context_takeover/;

  for (const mode of Object.keys(MODES)) {
    test(`the ws client → our server, ${mode}`, { timeout: TIMEOUT }, async () => {
      const { sniffer } = await ourServer(mode);
      const result = await runClientPeer("node", "tests/compression/peers/ws_client.mjs", [
        `ws://127.0.0.1:${sniffer.port}/`,
        mode,
      ]);
      assertEchoes(result, /permessage-deflate/);
      assertCompressed(sniffer);
    });

    test(`Bun's WebSocket client → our server, ${mode}`, { timeout: TIMEOUT }, async () => {
      const { sniffer } = await ourServer(mode);
      const result = await runClientPeer("bun", "tests/compression/peers/bun_peer.ts", [
        "client",
        `ws://127.0.0.1:${sniffer.port}/`,
      ]);
      assertEchoes(result, expectedAnswer(mode));
      assertCompressed(sniffer);
    });

    test(skipName(`Chromium → our server, ${mode}`, noChromium), {
      timeout: TIMEOUT,
      skip: noChromium,
    }, async () => {
      const { sniffer } = await ourServer(mode);
      const result = await runClientPeer("node", "tests/compression/peers/chromium.mjs", [
        `ws://127.0.0.1:${sniffer.port}/`,
      ]);
      assertEchoes(result, expectedAnswer(mode));
      assertCompressed(sniffer);
    });

    for (const peer of ["ws", "bun"] as const) {
      test(`our client → ${peer === "ws" ? "the ws server" : "Bun's native server"}, ${mode}`, {
        timeout: TIMEOUT,
      }, async () => {
        const [command, args] = peer === "ws"
          ? scriptCommand("node", "tests/compression/peers/ws_server.mjs", [mode])
          : scriptCommand("bun", "tests/compression/peers/bun_peer.ts", ["server", mode]);
        const { child, port } = await startListener(command, args, { deadlineMs: TIMEOUT });
        cleanups.push(() => child.kill());
        const sniffer = await startSniffer(port);
        cleanups.push(() => sniffer.close());
        const ws = await connect(`ws://127.0.0.1:${sniffer.port}/`, {
          perMessageDeflate: MODES[mode],
        });
        try {
          assert.match(ws.extensions, /^permessage-deflate/);
          if (mode === "no-takeover" && peer === "ws") {
            assert.match(ws.extensions, /server_no_context_takeover/);
            assert.match(ws.extensions, /client_no_context_takeover/);
          }
          const iterator = ws[Symbol.asyncIterator]();
          for (const message of messages()) {
            ws.send(message);
            const next = await iterator.next();
            assert.equal(next.done, false);
            assert.equal(fingerprint(next.value as string | Uint8Array), fingerprint(message));
          }
          ws.close(1000);
          assert.equal((await ws.closed).code, 1000);
        } finally {
          ws.terminate();
          child.kill();
        }
        // Bun's server compresses every message it is told to; the 0-byte one may go plain.
        assertCompressed(sniffer);
      });
    }
  }
});
