/**
 * Child processes for the interop tests: every one is tracked, bounded by a timeout after which
 * it is killed, and killed by {@link killAll} (call it from `after`) whatever happened.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root (the children's working directory). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The runtimes' binaries, as installed by `npm install`. */
export const BIN = {
  deno: `${ROOT}node_modules/.bin/deno`,
  bun: `${ROOT}node_modules/.bin/bun`,
  node: "node",
};

const children = new Set<{ child: ChildProcess; signal(): void }>();

/** A running child with its output so far. */
export interface Child {
  process: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /**
   * Sends a signal unless the child has exited. Goes through `process.kill(pid)`: Deno's
   * `ChildProcess.kill()` makes the exit event report the signal it sent instead of the child's
   * real exit code (and refuses a second signal after the first), so it cannot test a graceful
   * exit on SIGINT.
   */
  signal(signal: "SIGINT" | "SIGKILL"): void;
  /** Settles when the child has exited; rejects (after killing it) when `timeoutMs` passes first. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves once stdout contains `text`; rejects if the child exits first or on timeout. */
  waitForOutput(text: string, timeoutMs: number): Promise<void>;
}

/** Starts a child that is SIGKILLed after `timeoutMs` unless it has exited. */
export function startChild(
  command: string,
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Child {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const signal = (name: "SIGINT" | "SIGKILL") => {
    if (gone || child.pid === undefined) return;
    try {
      process.kill(child.pid, name);
    } catch {
      // Exited in the meantime.
    }
  };
  let out = "";
  let err = "";
  const outputWaiters = new Set<() => void>();
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    out += chunk;
    for (const wake of outputWaiters) wake();
  });
  child.stderr!.on("data", (chunk: string) => err += chunk);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let exitInfo: { code: number | null; signal: string | null } | null = null;
  let gone = false;
  child.on("exit", () => gone = true);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    timer = setTimeout(() => {
      signal("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      exitInfo = { code, signal };
      for (const wake of outputWaiters) wake();
      resolve(exitInfo);
    });
  });
  exited.catch(() => {});

  const entry = { child, signal: () => signal("SIGKILL") };
  children.add(entry);
  exited.finally(() => children.delete(entry)).catch(() => {});

  return {
    process: child,
    signal,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(text, ms) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (out.includes(text)) done(null);
          else if (exitInfo !== null) {
            done(
              new Error(`exited (${JSON.stringify(exitInfo)}) before printing ${text}:\n${err}`),
            );
          }
        };
        const deadline = setTimeout(
          () => done(new Error(`no "${text}" on stdout within ${ms} ms:\n${out}\n${err}`)),
          ms,
        );
        const done = (error: Error | null) => {
          clearTimeout(deadline);
          outputWaiters.delete(check);
          if (error === null) resolve();
          else reject(error);
        };
        outputWaiters.add(check);
        check();
      });
    },
  };
}

/** Kills every child still running. */
export function killAll(): void {
  for (const { signal } of children) signal();
  children.clear();
}

/** The JSON line a peer prints. */
export type PeerOutput =
  | { ok: true; client: string; result: unknown }
  | { ok: false; error: string };

/** How long a peer process may run, in ms (the peer gives up by itself after 60 s). */
export const PEER_TIMEOUT = 90_000;

/** Runs tests/peers/peer.mjs on a runtime and returns its scenario result. */
export async function runPeer(
  runtime: "deno" | "bun" | "node",
  url: string,
  scenario: string,
): Promise<unknown> {
  const script = "tests/peers/peer.mjs";
  const args = runtime === "deno" ? ["run", "-A", script, url, scenario] : [script, url, scenario];
  const child = startChild(BIN[runtime], args, PEER_TIMEOUT);
  try {
    const { code } = await child.exited;
    const lines = child.stdout().trim().split("\n");
    let output: PeerOutput;
    try {
      output = JSON.parse(lines[lines.length - 1]);
    } catch {
      throw new Error(
        `${runtime} peer printed no JSON (exit ${code}):\n${child.stdout()}\n${child.stderr()}`,
      );
    }
    if (!output.ok) throw new Error(`${runtime} peer failed: ${output.error}\n${child.stderr()}`);
    if (code !== 0) throw new Error(`${runtime} peer exited with ${code}:\n${child.stderr()}`);
    return output.result;
  } finally {
    child.signal("SIGKILL");
  }
}

/** A port that was free a moment ago: bound to port 0 on 127.0.0.1, read, released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        return reject(new Error("no port"));
      }
      server.close(() => resolve(address.port));
    });
  });
}
