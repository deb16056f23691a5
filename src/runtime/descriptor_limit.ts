/**
 * The process's file-descriptor limit (`ulimit -n`), as the adapters meet it. Every accepted
 * socket is a descriptor; once they are all in use, the kernel still completes new TCP handshakes
 * and queues the connections, but the server cannot accept them. Left alone, they would wait
 * unanswered, and an event loop that retries the accept at once spins at 100% CPU. The adapters
 * instead refuse (reset) the connections that do not fit, while every connection already open is
 * served, and accept again once descriptors free up; this file holds what they share: how the
 * condition is recognised and the one warning per episode.
 * @module
 */

import { closeSync, openSync } from "node:fs";
import { devNull } from "node:os";
import { hostPort } from "./net_errors.ts";

/** Whether `error` says the process (EMFILE) or the system (ENFILE) has no descriptor left. */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/**
 * Whether the process has no file descriptor left, found by opening one: two system calls, for
 * the adapters whose runtime does not say when its accept fails (Bun, Node).
 */
export function atDescriptorLimit(): boolean {
  try {
    closeSync(openSync(devNull, "r"));
    return false;
  } catch (error) {
    return isOutOfDescriptors(error);
  }
}

/**
 * Says once per episode that connections are being refused for want of descriptors: `reached()`
 * warns unless it already did since the last `recovered()` (a connection accepted normally).
 */
export class DescriptorLimitReport {
  readonly #where: string;
  #reached = false;

  /** For the listener on `hostname:port`. */
  constructor(hostname: string, port: number) {
    this.#where = hostPort(hostname, port);
  }

  /** A connection was refused because no descriptor was left. */
  reached(): void {
    if (this.#reached) return;
    this.#reached = true;
    console.warn(
      `edgews: out of file descriptors on ${this.#where}: new connections are refused until ` +
        "some close. Raise the process's limit (ulimit -n, LimitNOFILE= in systemd) to serve more.",
    );
  }

  /** A connection was accepted again: the next refusal starts a new episode. */
  recovered(): void {
    this.#reached = false;
  }
}
