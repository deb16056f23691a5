/**
 * The echo servers of the compression suites (compression, memory-deflate): each one's program
 * with permessage-deflate on. Deno's native server has none: Deno.upgradeWebSocket cannot
 * compress, so it is left out of these suites.
 *
 * @module
 */

import { BUN, DENO, NODE } from "./paths.ts";

/** The compressing echo server of each server that has one, by the name the options use. */
export const DEFLATE_ECHO: Record<string, string[]> = {
  "edgews-deno": [DENO, "run", "-A", "bench/servers/edgews_deflate.ts"],
  "edgews-bun": [BUN, "bench/servers/edgews_deflate.ts"],
  "edgews-node": [NODE, "bench/servers/edgews_deflate.ts"],
  "bun-native": [BUN, "bench/servers/bun_native_deflate.ts"],
  "ws-node": [NODE, "bench/servers/ws_node_deflate.mjs"],
};

/** Why a server of `--servers` is missing from the compression suites (for the reports). */
export const NO_DEFLATE: Record<string, string> = {
  "deno-native": "Deno.upgradeWebSocket has no server-side permessage-deflate",
};

/** The servers of `servers` that the compression suites can measure, in the same order. */
export function deflateServers(servers: string[]): string[] {
  return servers.filter((s) => DEFLATE_ECHO[s]);
}
