/**
 * The edgews servers the interop tests talk to: recording servers (tests/helpers/
 * recording_server.ts) on the test's runtime, speaking the subprotocol "chat" only.
 *
 * Paths:
 * - any path: echo (text as text, binary as binary);
 * - `/server-ping`: pings on open with {@link SERVER_PING_PAYLOAD}; when the pong arrives, sends
 *   `pong:<hex of its payload>`;
 * - `/close-server`: sends "closing" on open, then closes with 4000 and {@link SERVER_CLOSE_REASON}.
 *
 * The push-style server echoes from its `message` callback; the pull-style one with
 * `for await (const message of ws)` and has no `message` callback. Of each message, they keep its
 * {@link describe description}.
 * @module
 */

import type { Message } from "../../mod.ts";
import { hex } from "../helpers/bytes.ts";
import { type RecordingServer, startRecordingServer } from "../helpers/recording_server.ts";
import { SERVER_CLOSE_REASON, SERVER_PING_PAYLOAD } from "../peers/scenarios.mjs";

/** A message as a test compares it: its type, length and SHA-256. */
export interface SeenMessage {
  type: "text" | "binary";
  length: number;
  sha256: string;
}

/** Starts a push-style or pull-style interop server. */
export function startInteropServer(style: "push" | "pull"): RecordingServer<Promise<SeenMessage>> {
  return startRecordingServer({
    keep: describe,
    protocols: ["chat"],
    pull: style === "pull",
    onOpen(ws) {
      if (ws.data.path === "/server-ping") ws.ping(SERVER_PING_PAYLOAD);
      if (ws.data.path === "/close-server") {
        ws.send("closing");
        ws.close(4000, SERVER_CLOSE_REASON);
      }
    },
    onPong(ws, payload) {
      if (ws.data.path === "/server-ping") ws.send(`pong:${hex(payload)}`);
    },
  });
}

/** The type, length and SHA-256 of a message (or of bytes sent as binary). */
export async function describe(message: Message | Uint8Array): Promise<SeenMessage> {
  const bytes = typeof message === "string" ? new TextEncoder().encode(message) : message;
  return {
    type: typeof message === "string" ? "text" : "binary",
    length: bytes.length,
    sha256: hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes.slice()))),
  };
}
