/**
 * tests/peers/peer.mjs in a child process: a WebSocket client nobody here wrote (another
 * runtime's `WebSocket`, or `ws` on Node) running one interop scenario against our server.
 * @module
 */

import { scriptCommand, startChild } from "../helpers/processes.ts";
import type { Runtime } from "../helpers/servers.ts";

/** The JSON line a peer prints. */
export type PeerOutput =
  | { ok: true; client: string; result: unknown }
  | { ok: false; error: string };

/** How long a peer process may run, in ms (the peer gives up by itself after 60 s). */
export const PEER_TIMEOUT = 90_000;

/**
 * Runs tests/peers/peer.mjs with a client, a runtime's `WebSocket` or `ws` (on Node), and returns
 * its scenario result.
 */
export async function runPeer(
  client: Runtime | "ws",
  url: string,
  scenario: string,
): Promise<unknown> {
  const runtime = client === "ws" ? "node" : client;
  const [command, args] = scriptCommand(runtime, "tests/peers/peer.mjs", [
    url,
    scenario,
    client === "ws" ? "ws" : "builtin",
  ]);
  const child = startChild(command, args, { deadlineMs: PEER_TIMEOUT });
  const output = await child.report<PeerOutput>(PEER_TIMEOUT);
  const { code } = await child.exited;
  if (!output.ok) throw new Error(`${runtime} peer failed: ${output.error}\n${child.stderr()}`);
  if (code !== 0) throw new Error(`${runtime} peer exited with ${code}:\n${child.stderr()}`);
  return output.result;
}
