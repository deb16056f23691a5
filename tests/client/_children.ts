/**
 * Child processes for the client tests. Every child is SIGKILLed when its deadline passes, and
 * {@link killChildren} (call it from `after`) kills whatever is still running.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The repository root, the children's working directory. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The runtimes' binaries. */
export const BIN = {
  deno: `${ROOT}node_modules/.bin/deno`,
  bun: `${ROOT}node_modules/.bin/bun`,
  node: "node",
} as const;

/** The command line that runs `script` on `runtime` with every permission. */
export function scriptArgs(runtime: "deno" | "bun" | "node", script: string): string[] {
  return runtime === "deno" ? ["run", "-A", script] : [script];
}

/** A JSON line a peer server printed. */
export type PeerEvent = { event: string; [key: string]: unknown };

/** A running child process and what it has printed. */
export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The JSON lines printed on stdout so far. */
  events(): PeerEvent[];
  /** Resolves with the first stdout line matching; rejects on exit or after `ms`. */
  waitForLine(match: (line: string) => boolean, ms?: number): Promise<string>;
  /** Resolves with the first JSON event matching; rejects on exit or after `ms`. */
  waitForEvent(match: (event: PeerEvent) => boolean, ms?: number): Promise<PeerEvent>;
  /** Settles when the child has exited; rejects once the overall deadline has killed it. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  kill(): void;
}

const running = new Set<ChildProcess>();

/** Starts a child that is killed after `deadlineMs` at the latest. */
export function startChild(
  command: string,
  args: string[],
  options: { deadlineMs?: number; env?: Record<string, string>; stdin?: boolean } = {},
): Child {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
  running.add(child);
  let out = "";
  let err = "";
  let exitInfo: { code: number | null; signal: string | null } | null = null;
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    out += chunk;
    wake();
  });
  child.stderr!.on("data", (chunk: string) => err += chunk);
  const deadlineMs = options.deadlineMs ?? 90_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} still running after ${deadlineMs} ms`));
    }, deadlineMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      running.delete(child);
      exitInfo = { code: null, signal: "error" };
      wake();
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      exitInfo = { code, signal };
      wake();
      resolve(exitInfo);
    });
  });
  exited.catch(() => {});

  const lines = () => out.split("\n").filter((line) => line !== "");
  const events = () => {
    const found: PeerEvent[] = [];
    for (const line of lines()) {
      if (!line.startsWith("{")) continue;
      try {
        found.push(JSON.parse(line));
      } catch {
        // Not a whole JSON line.
      }
    }
    return found;
  };
  const waitFor = <R>(find: () => R | undefined, what: string, ms: number) =>
    new Promise<R>((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) return done(() => resolve(found));
        if (exitInfo !== null) {
          done(() =>
            reject(
              new Error(`child exited ${JSON.stringify(exitInfo)} before ${what}:\n${out}\n${err}`),
            )
          );
        }
      };
      const deadline = setTimeout(
        () => done(() => reject(new Error(`no ${what} within ${ms} ms:\n${out}\n${err}`))),
        ms,
      );
      const done = (settle: () => void) => {
        clearTimeout(deadline);
        wakers.delete(check);
        settle();
      };
      wakers.add(check);
      check();
    });

  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    events,
    waitForLine: (match, ms = 30_000) => waitFor(() => lines().find(match), "matching line", ms),
    waitForEvent: (match, ms = 30_000) => waitFor(() => events().find(match), "matching event", ms),
    exited,
    kill() {
      if (exitInfo === null) child.kill("SIGKILL");
    },
  };
}

/** Kills every child still running. */
export function killChildren(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

/** Starts a peer server script and waits for its `LISTENING <port>` line. */
export async function startPeerServer(
  runtime: "deno" | "bun" | "node",
  script: string,
  extraArgs: string[] = [],
): Promise<{ child: Child; port: number }> {
  const child = startChild(BIN[runtime], [...scriptArgs(runtime, script), ...extraArgs]);
  try {
    const line = await child.waitForLine((l) => l.startsWith("LISTENING "), 30_000);
    return { child, port: Number(line.slice("LISTENING ".length)) };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** The test CA's path, relative to {@link ROOT} (the children's working directory). */
export const CA_PATH_ARG = "tests/fixtures/tls/ca.pem";
