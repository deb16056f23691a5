/**
 * The servers our client is tested against, each speaking the protocol described in
 * tests/peers/edgews_echo_server.ts: edgews in-process, edgews on the other runtime, Bun's
 * native server, Deno's native server, and `ws` on Node.
 * @module
 */

import { readFileSync } from "node:fs";
import type { WebSocketServer } from "../../mod.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { type PeerEvent, startPeerServer } from "./_children.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { peerProtocolHandler } from "../peers/edgews_peer_handler.ts";

/** A server that is up. */
export interface RunningTarget {
  url: string;
  /** Resolves with the first event (see the peer protocol) that matches. */
  waitForEvent(match: (event: PeerEvent) => boolean): Promise<PeerEvent>;
  stop(): Promise<void>;
}

/** A server kind, and which parts of the peer protocol it can play. */
export interface Target {
  name: string;
  /** Can ping on `cmd:ping` and report the pong. */
  serverPing: boolean;
  /** Sends fragmented messages on `cmd:frag` / `cmd:frag-binary`. */
  fragments: boolean;
  /** Answers with the client's first subprotocol when the application chose none (Bun). */
  echoesFirstProtocol?: boolean;
  start(): Promise<RunningTarget>;
}

export const OTHER_RUNTIME: "deno" | "bun" = RUNTIME === "deno" ? "bun" : "deno";

export const TLS_CERT = readFileSync(
  new URL("../fixtures/tls/localhost.pem", import.meta.url),
  "utf8",
);
export const TLS_KEY = readFileSync(
  new URL("../fixtures/tls/localhost.key", import.meta.url),
  "utf8",
);
export const TLS_CA = readFileSync(new URL("../fixtures/tls/ca.pem", import.meta.url), "utf8");
export const CA_PATH = new URL("../fixtures/tls/ca.pem", import.meta.url).pathname;

/** An edgews server in this process, playing the peer protocol. */
export function startInProcess(tls = false): { server: WebSocketServer; running: RunningTarget } {
  const events: PeerEvent[] = [];
  let wake: (() => void) | null = null;
  const record = (event: PeerEvent) => {
    events.push(event);
    wake?.();
  };
  const server = startServer({
    tls: tls ? { cert: TLS_CERT, key: TLS_KEY } : undefined,
    protocols: ["chat"],
    websocket: peerProtocolHandler(record),
  });
  const running: RunningTarget = {
    url: `${tls ? "wss" : "ws"}://127.0.0.1:${server.port}/`,
    async waitForEvent(match) {
      const wait = async () => {
        let found: PeerEvent | undefined;
        while ((found = events.find(match)) === undefined) {
          await new Promise<void>((resolve) => wake = resolve);
        }
        return found;
      };
      return await within(wait(), WAIT_MS, "waiting for a server event");
    },
    stop: () => server.stop(),
  };
  return { server, running };
}

function childTarget(
  name: string,
  runtime: "deno" | "bun" | "node",
  script: string,
  caps: { serverPing: boolean; fragments: boolean; echoesFirstProtocol?: boolean },
): Target {
  return {
    name,
    ...caps,
    async start() {
      const { child, port } = await startPeerServer(runtime, script);
      return {
        url: `ws://127.0.0.1:${port}/`,
        waitForEvent: (match) => child.waitForEvent(match, WAIT_MS),
        async stop() {
          child.kill();
          await child.exited.catch(() => {});
        },
      };
    },
  };
}

export const TARGETS: Target[] = [
  {
    name: `edgews on ${RUNTIME} (in-process)`,
    serverPing: true,
    fragments: false,
    start: () => Promise.resolve(startInProcess().running),
  },
  childTarget(
    `edgews on ${OTHER_RUNTIME} (child process)`,
    OTHER_RUNTIME,
    "tests/peers/edgews_echo_server.ts",
    { serverPing: true, fragments: false },
  ),
  childTarget("Bun.serve native websocket", "bun", "tests/peers/bun_native_echo_server.ts", {
    serverPing: true,
    fragments: false,
    echoesFirstProtocol: true,
  }),
  childTarget("Deno.upgradeWebSocket", "deno", "tests/peers/deno_native_echo_server.ts", {
    serverPing: false,
    fragments: false,
  }),
  childTarget("ws on Node", "node", "tests/peers/ws_echo_server.mjs", {
    serverPing: true,
    fragments: true,
  }),
];
