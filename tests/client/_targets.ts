/**
 * The servers our client is tested against, each speaking the protocol described in
 * tests/peers/edgews_echo_server.ts: edgews in-process, edgews on each other runtime, Bun's
 * native server, Deno's native server, and `ws` on Node.
 * @module
 */

import type { WebSocketServer } from "../../mod.ts";
import { type Child, scriptCommand, startListener } from "../helpers/processes.ts";
import { OTHER_RUNTIMES, RUNTIME, type Runtime, startServer } from "../helpers/servers.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { TLS_CERT, TLS_KEY } from "../helpers/tls.ts";
import { type PeerProtocolEvent, peerProtocolHandler } from "../peers/edgews_peer_handler.ts";

/** A server that is up. */
export interface RunningTarget {
  url: string;
  /** Resolves with the first event (see the peer protocol) that matches. */
  waitForEvent(match: (event: PeerProtocolEvent) => boolean): Promise<PeerProtocolEvent>;
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

/** Starts a peer server script (see the peer protocol) on `runtime`; resolves once it listens. */
export function startPeerServer(
  runtime: Runtime,
  script: string,
  args: string[] = [],
): Promise<{ child: Child; port: number }> {
  const [command, argv] = scriptCommand(runtime, script, args);
  return startListener(command, argv, { deadlineMs: 90_000 });
}

/** An edgews server in this process, playing the peer protocol. */
export function startInProcess(tls = false): { server: WebSocketServer; running: RunningTarget } {
  const events: PeerProtocolEvent[] = [];
  let wake: (() => void) | null = null;
  const record = (event: PeerProtocolEvent) => {
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
        let found: PeerProtocolEvent | undefined;
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
  runtime: Runtime,
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
          await child.exited;
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
  ...OTHER_RUNTIMES.map((runtime) =>
    childTarget(
      `edgews on ${runtime} (child process)`,
      runtime,
      "tests/peers/edgews_echo_server.ts",
      {
        serverPing: true,
        fragments: false,
      },
    )
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
