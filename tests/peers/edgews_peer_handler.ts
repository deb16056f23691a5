/**
 * The edgews side of the peer protocol the client tests speak (described in
 * edgews_echo_server.ts), shared by the in-process target and the child-process server so both
 * play exactly the same script.
 * @module
 */

import type { WebSocketHandler } from "../../mod.ts";

/** What the handler reports: `open`, `pong` and `close` events. */
export type PeerProtocolEvent = { event: string; [key: string]: unknown };

/** The scripted handler; every event goes to `emit`. */
export function peerProtocolHandler(
  emit: (event: PeerProtocolEvent) => void,
): WebSocketHandler {
  const decoder = new TextDecoder();
  return {
    open(ws) {
      emit({ event: "open", protocol: ws.protocol });
    },
    message(ws, message) {
      if (message === "cmd:close") ws.close(4001, "server bye");
      else if (message === "cmd:ping") ws.ping("srv-ping");
      else ws.send(message);
    },
    pong(ws, payload) {
      const text = decoder.decode(payload);
      emit({ event: "pong", payload: text });
      ws.send(`pong-seen:${text}`);
    },
    close(_ws, code, reason) {
      emit({ event: "close", code, reason });
    },
  };
}
