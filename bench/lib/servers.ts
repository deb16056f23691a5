/**
 * The servers the benchmark measures (bench/servers/): what each is called in the reports and the
 * command that runs it.
 *
 * @module
 */

import { BUN, DENO, NODE } from "./paths.ts";

/** A server under test. */
export type ServerSpec = {
  /** Its name in tables and the chart. */
  label: string;
  /** The echo server (throughput, memory and handshake suites); none for scale-out only ones. */
  echo?: string[];
  /** The fan-out server: subscribers connect to /sub, each message received is published. */
  broadcast: string[];
  /** An edgews server (the subject) rather than an anchor. */
  edgews: boolean;
};

/** Every server, by the name the options use. */
export const SERVERS: Record<string, ServerSpec> = {
  "edgews-deno": {
    label: "edgews on Deno",
    echo: [DENO, "run", "-A", "bench/servers/edgews.ts"],
    broadcast: [DENO, "run", "-A", "bench/servers/edgews_broadcast.ts"],
    edgews: true,
  },
  "edgews-bun": {
    label: "edgews on Bun",
    echo: [BUN, "bench/servers/edgews.ts"],
    broadcast: [BUN, "bench/servers/edgews_broadcast.ts"],
    edgews: true,
  },
  "edgews-node": {
    label: "edgews on Node",
    echo: [NODE, "bench/servers/edgews.ts"],
    broadcast: [NODE, "bench/servers/edgews_broadcast.ts"],
    edgews: true,
  },
  "deno-native": {
    label: "Deno.upgradeWebSocket",
    echo: [DENO, "run", "-A", "bench/servers/deno_native.ts"],
    broadcast: [DENO, "run", "-A", "bench/servers/deno_native_broadcast.ts"],
    edgews: false,
  },
  "bun-native": {
    label: "Bun.serve websocket",
    echo: [BUN, "bench/servers/bun_native.ts"],
    broadcast: [BUN, "bench/servers/bun_native_broadcast.ts"],
    edgews: false,
  },
  "ws-node": {
    label: "ws on Node",
    echo: [NODE, "bench/servers/ws_node.mjs"],
    broadcast: [NODE, "bench/servers/ws_node_broadcast.mjs"],
    edgews: false,
  },
  "socketio-node": {
    label: "Socket.IO + redis-adapter on Node",
    broadcast: [NODE, "bench/servers/socketio_scaleout.mjs"],
    edgews: false,
  },
};

/** The servers of the single-instance suites (`--servers`), in report order. */
export const ECHO_SERVERS: string[] = [
  "edgews-deno",
  "edgews-bun",
  "edgews-node",
  "deno-native",
  "bun-native",
  "ws-node",
];
/** The edgews servers, whose ratios to each anchor the reports show. */
export const EDGEWS: string[] = ["edgews-deno", "edgews-bun", "edgews-node"];
/** The runtimes' own servers and `ws`, what a user would pick instead of edgews. */
export const ANCHORS: string[] = ["deno-native", "bun-native", "ws-node"];
/** The servers of the scale-out suite (`--so-servers`). */
export const SCALEOUT_SERVERS: string[] = [
  "edgews-deno",
  "edgews-bun",
  "edgews-node",
  "socketio-node",
];
/** The scale-out suite's anchor: Socket.IO with its Redis adapter. */
export const SCALEOUT_ANCHOR = "socketio-node";

/** "label (`name`)", the first cell of a table row. */
export function serverLabel(name: string): string {
  return `${SERVERS[name].label} (\`${name}\`)`;
}
