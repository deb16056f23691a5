/**
 * Running an example (or a driver script) as a child process, the way a user runs it. Every child
 * is tracked, SIGKILLed when its deadline passes, and killed by {@link killChildren} (call it from
 * `after`) whatever happened.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { RUNTIME } from "./servers.ts";

/** The repository root, the children's working directory. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The runtimes' binaries, as installed by `npm install`. */
export const BIN = {
  deno: `${ROOT}node_modules/.bin/deno`,
  bun: `${ROOT}node_modules/.bin/bun`,
  node: "node",
} as const;

/** A running child and its output so far. */
export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Settles once the child has exited (also after its deadline killed it). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Whether it has exited. */
  readonly done: boolean;
  /** Resolves with the first match of `pattern` in stdout; rejects on exit or after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /**
   * Sends a signal unless the child has exited. Uses `process.kill(pid)`: Deno's
   * `ChildProcess.kill()` would make the exit report the signal rather than the exit code.
   */
  signal(signal: "SIGINT" | "SIGTERM" | "SIGKILL"): void;
}

const running = new Set<Child>();

/** Starts `command args` in the repository root; SIGKILLed after `deadlineMs`. */
export function startChild(
  command: string,
  args: string[],
  deadlineMs: number,
  env: Record<string, string> = {},
): Child {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let done = false;
  const wakers = new Set<() => void>();
  const wake = () => [...wakers].forEach((w) => w());
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    out += chunk;
    wake();
  });
  child.stderr!.on("data", (chunk: string) => err += chunk);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    const timer = setTimeout(() => handle.signal("SIGKILL"), deadlineMs);
    const finish = (code: number | null, signal: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      running.delete(handle);
      wake();
      resolve({ code, signal });
    };
    child.on("error", () => finish(null, "spawn error"));
    child.on("close", (code, signal) => finish(code, signal));
  });
  const handle: Child = {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    get done() {
      return done;
    },
    waitFor(pattern, ms) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (match !== null) return settle(() => resolve(match));
          if (done) {
            settle(() => reject(new Error(`${command} exited before ${pattern}:\n${out}\n${err}`)));
          }
        };
        const timer = setTimeout(
          () => settle(() => reject(new Error(`no ${pattern} within ${ms} ms:\n${out}\n${err}`))),
          ms,
        );
        const settle = (how: () => void) => {
          clearTimeout(timer);
          wakers.delete(check);
          how();
        };
        wakers.add(check);
        check();
      });
    },
    signal(signal) {
      if (done || child.pid === undefined) return;
      try {
        process.kill(child.pid, signal);
      } catch {
        // Already gone.
      }
    },
  };
  running.add(handle);
  return handle;
}

/** The command that runs an example as its README says, on `runtime`. */
export function exampleCommand(
  script: string,
  runtime: "deno" | "bun" = RUNTIME,
): [string, string[]] {
  return runtime === "deno"
    ? [BIN.deno, ["run", "--allow-net", "--allow-env", script]]
    : [BIN.bun, ["run", script]];
}

/**
 * Starts an example on the test's runtime with PORT=0 and waits for the line that names its URL.
 * Returns the child and the port it printed.
 */
export async function startExample(
  script: string,
  deadlineMs: number,
  startMs = 30_000,
): Promise<{ child: Child; port: number }> {
  const [command, args] = exampleCommand(script);
  const child = startChild(command, args, deadlineMs, { PORT: "0" });
  try {
    const match = await child.waitFor(/(?:ws|http):\/\/127\.0\.0\.1:(\d+)\//, startMs);
    return { child, port: Number(match[1]) };
  } catch (error) {
    child.signal("SIGKILL");
    throw error;
  }
}

/** SIGKILLs every child still running and waits for them to exit. */
export async function killChildren(): Promise<void> {
  const left = [...running];
  for (const child of left) child.signal("SIGKILL");
  await Promise.all(left.map((child) => child.exited));
}
