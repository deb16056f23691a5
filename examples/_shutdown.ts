/**
 * Graceful shutdown on SIGINT (Ctrl-C) and SIGTERM (what `docker stop`, Kubernetes, systemd and
 * the cluster launcher send), the same way for both.
 * @module
 */

import process from "node:process";

/** What can be shut down: a `WebSocketServer`, or anything wrapping one with more cleanup. */
export interface ShutsDown {
  /** Resolves once everything is closed. */
  shutdown(): Promise<unknown>;
}

/**
 * On the first SIGINT or SIGTERM, prints "shutting down", awaits `target.shutdown()` and exits 0
 * (1 if it rejects). Later signals are ignored: under the cluster launcher a Ctrl-C reaches a
 * worker twice (SIGINT from the terminal, SIGTERM from the launcher), and the second must not cut
 * short the closing handshakes the first started.
 */
export function shutdownOn(target: ShutsDown): void {
  let started = false;
  const stop = async () => {
    if (started) return;
    started = true;
    console.log("shutting down");
    try {
      await target.shutdown();
    } catch (error) {
      console.error("shutdown failed:", error);
      process.exit(1);
    }
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      process.on(signal, stop);
    } catch {
      // Deno on Windows listens to SIGINT and SIGBREAK only; SIGTERM cannot arrive there anyway.
    }
  }
}
