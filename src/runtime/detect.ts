/**
 * Picks the adapter for the runtime we are on. The one place that asks "Deno, Bun or Node?".
 * @module
 */

import type { DialFunction, ListenFunction } from "../transport.ts";
import { dialBun, listenBun } from "./bun.ts";
import { dialDeno, listenDeno } from "./deno.ts";
import { dialNode, listenNode } from "./node.ts";

/** The name of the runtime edgews is running on. */
export type RuntimeName = "deno" | "bun" | "node";

/**
 * Which runtime this is; throws on any other, since edgews needs raw TCP sockets. Deno and Bun
 * both have `process.versions.node` too (for their Node compatibility), so they are asked first.
 */
export function detectRuntime(): RuntimeName {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  const versions = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions;
  if (typeof versions?.node === "string") return "node";
  throw new Error("edgews runs on Deno, Bun or Node; this runtime is none of them");
}

const ADAPTERS: Record<RuntimeName, { listen: ListenFunction; dial: DialFunction }> = {
  deno: { listen: listenDeno, dial: dialDeno },
  bun: { listen: listenBun, dial: dialBun },
  node: { listen: listenNode, dial: dialNode },
};

/** The listen function of the current runtime's adapter. */
export function runtimeListen(): ListenFunction {
  return ADAPTERS[detectRuntime()].listen;
}

/** The dial function of the current runtime's adapter. */
export function runtimeDial(): DialFunction {
  return ADAPTERS[detectRuntime()].dial;
}
