/**
 * The server the pub/sub tests talk to, in-process on the test's runtime. A client names itself
 * and its topics in the URL (`/?id=7&topics=a,b`) and is subscribed to them when it opens; it can
 * then send commands as JSON text: `{"op":"sub"|"unsub","topic":…}` and
 * `{"op":"pub","topic":…,"data":…,"binary"?:true}` (which calls `ws.publish`). Each command is
 * answered with `{"ack":op,"result":…}`, the method's return value.
 * @module
 */

import type { ServeOptions, ServerWebSocket, WebSocketServer } from "../../mod.ts";
import { startServer } from "../helpers/servers.ts";

/** Per-connection data. */
export interface Peer {
  id: string;
  topics: string[];
}

/** A running pub/sub test server and what it has seen. */
export interface PubSubServer {
  server: WebSocketServer<Peer>;
  /** Server-side connections by client id, kept after they close. */
  connections: Map<string, ServerWebSocket<Peer>>;
  /** Every `close` callback, in order. */
  closes: Array<{ id: string; code: number; reason: string }>;
  /** Every `drain` callback, by id. */
  drains: string[];
  /** Every `error` callback. */
  errors: unknown[];
}

const encoder = new TextEncoder();

/** Starts the server; `options` adds limits (e.g. `backpressureLimit`). */
export function startPubSubServer(options: ServeOptions<Peer> = {}): PubSubServer {
  const connections = new Map<string, ServerWebSocket<Peer>>();
  const closes: PubSubServer["closes"] = [];
  const drains: string[] = [];
  const errors: unknown[] = [];
  const server = startServer<Peer>({
    ...options,
    upgrade(request) {
      const params = new URL(request.url).searchParams;
      const topics = (params.get("topics") ?? "").split(",").filter((t) => t !== "");
      return { data: { id: params.get("id") ?? "", topics } };
    },
    websocket: {
      open(ws) {
        connections.set(ws.data.id, ws);
        for (const topic of ws.data.topics) ws.subscribe(topic);
      },
      message(ws, message) {
        const command = JSON.parse(message as string);
        let result: unknown;
        if (command.op === "sub") result = ws.subscribe(command.topic);
        else if (command.op === "unsub") result = ws.unsubscribe(command.topic);
        else if (command.op === "pub") {
          const data = command.binary ? encoder.encode(command.data) : command.data;
          result = ws.publish(command.topic, data);
        } else throw new Error(`unknown command ${message}`);
        ws.send(JSON.stringify({ ack: command.op, result }));
      },
      drain(ws) {
        drains.push(ws.data.id);
      },
      close(ws, code, reason) {
        closes.push({ id: ws.data.id, code, reason });
      },
      error(_ws, error) {
        errors.push(error);
      },
    },
  });
  return { server, connections, closes, drains, errors };
}
