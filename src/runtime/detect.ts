/**
 * Picks the adapter for the runtime we are on. The one place that asks "Deno or Bun?".
 * @module
 */

import type { DialFunction, ListenFunction } from "../transport.ts";
import { dialBun, listenBun } from "./bun.ts";
import { dialDeno, listenDeno } from "./deno.ts";

/** The name of the runtime edgews is running on. */
export type RuntimeName = "deno" | "bun";

/** Which runtime this is; throws on any other, since edgews needs raw TCP sockets. */
export function detectRuntime(): RuntimeName {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  throw new Error("edgews runs on Deno or Bun; this runtime is neither");
}

/** The listen function of the current runtime's adapter. */
export function runtimeListen(): ListenFunction {
  return detectRuntime() === "bun" ? listenBun : listenDeno;
}

/** The dial function of the current runtime's adapter. */
export function runtimeDial(): DialFunction {
  return detectRuntime() === "bun" ? dialBun : dialDeno;
}
