/**
 * Child processes for tests: the repository root, the runtimes' binaries, the command lines that
 * run a script or an example, and {@link startChild}. Every child is tracked, SIGKILLed when its
 * deadline passes, and killed by {@link killChildren} (call it from `after`) whatever happened.
 * Also {@link freePort}, for a child that must be told its port.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { RUNTIME, type Runtime } from "./servers.ts";
import { WAIT_MS } from "./timing.ts";

/** The repository root, the children's working directory. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The runtimes' binaries, as installed by `npm install` (Node too: the pinned one, not the PATH's). */
export const BIN = {
  deno: `${ROOT}node_modules/.bin/deno`,
  bun: `${ROOT}node_modules/.bin/bun`,
  node: `${ROOT}node_modules/.bin/node`,
} as const;

/**
 * The command that runs `script` with `args` on `runtime`, with every permission: `deno run -A`,
 * `bun`, `node` (with the garbage collector exposed when `exposeGc`: Bun's always is).
 */
export function scriptCommand(
  runtime: keyof typeof BIN,
  script: string,
  args: string[] = [],
  options: { exposeGc?: boolean } = {},
): [string, string[]] {
  if (runtime === "bun") return [BIN.bun, [script, ...args]];
  if (runtime === "node") {
    return [BIN.node, [...(options.exposeGc ? ["--expose-gc"] : []), script, ...args]];
  }
  const flags = options.exposeGc ? ["--v8-flags=--expose-gc"] : [];
  return [BIN.deno, ["run", "-A", ...flags, script, ...args]];
}

/** The command that runs an example as its README says, on `runtime`. */
export function exampleCommand(
  script: string,
  runtime: Runtime = RUNTIME,
): [string, string[]] {
  if (runtime === "deno") return [BIN.deno, ["run", "--allow-net", "--allow-env", script]];
  return runtime === "bun" ? [BIN.bun, ["run", script]] : [BIN.node, [script]];
}

/** How a child ended: its exit code, or the signal that ended it. */
export interface Exit {
  code: number | null;
  signal: string | null;
}

/** Options for {@link startChild}. */
export interface ChildOptions {
  /** The child is SIGKILLed after this many ms at the latest. */
  deadlineMs: number;
  /** Added to this process's environment (with NO_COLOR=1). */
  env?: Record<string, string>;
  /** A pipe to the child's stdin, for {@link Child.tell}; otherwise stdin is closed. */
  stdin?: boolean;
  /** The working directory; the repository root by default. */
  cwd?: string;
}

/** A running child and its output so far. The waits reject once the child exits without it. */
export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The non-empty lines of stdout so far: whole lines, and the last one too once it exited. */
  lines(): string[];
  /** Settles once the child has exited (also when its deadline killed it). */
  readonly exited: Promise<Exit>;
  /** Whether it has exited. */
  readonly done: boolean;
  /** Resolves with the first match of `pattern` (a string: literally) in stdout. */
  waitFor(pattern: RegExp | string, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the first line of stdout that starts with `prefix`. */
  waitForLine(prefix: string, ms?: number): Promise<string>;
  /** Resolves with the first line of stdout that is a JSON object satisfying `match`, parsed. */
  waitForEvent<E = Record<string, unknown>>(match: (event: E) => boolean, ms?: number): Promise<E>;
  /** The JSON the child prints as its last line, once it has exited (killed after `ms`). */
  report<R>(ms?: number): Promise<R>;
  /** Writes a line to its stdin (see {@link ChildOptions.stdin}). */
  tell(line: string): void;
  /**
   * Sends a signal unless the child has exited. Uses `process.kill(pid)`: Deno's
   * `ChildProcess.kill()` would make the exit report the signal rather than the exit code.
   */
  signal(name: "SIGINT" | "SIGTERM" | "SIGKILL"): void;
  /** SIGKILL. */
  kill(): void;
}

const running = new Set<Child>();

/** Starts `command args`; see {@link ChildOptions}. */
export function startChild(command: string, args: string[], options: ChildOptions): Child {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
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
  child.stdin?.on("error", () => {}); // it exited; what it did not read does not matter
  const exited = new Promise<Exit>((resolve) => {
    const timer = setTimeout(() => handle.kill(), options.deadlineMs);
    const finish = (code: number | null, signal: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      running.delete(handle);
      wake();
      resolve({ code, signal });
    };
    child.on("error", (error) => {
      err += `${command}: ${error}`;
      finish(null, "spawn error");
    });
    child.on("close", finish);
  });

  const lines = () => {
    const all = out.split("\n");
    if (!done) all.pop(); // not a whole line yet
    return all.filter((line) => line !== "");
  };
  const events = <E>() =>
    lines().flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        return [JSON.parse(line) as E];
      } catch {
        return [];
      }
    });
  const until = <R>(find: () => R | undefined, what: string, ms: number) =>
    new Promise<R>((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) return settle(() => resolve(found));
        if (done) {
          settle(() => reject(new Error(`${command} exited before ${what}:\n${out}\n${err}`)));
        }
      };
      const timer = setTimeout(
        () => settle(() => reject(new Error(`no ${what} within ${ms} ms:\n${out}\n${err}`))),
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

  const handle: Child = {
    process: child,
    stdout: () => out,
    stderr: () => err,
    lines,
    exited,
    get done() {
      return done;
    },
    waitFor(pattern, ms = WAIT_MS) {
      const regex = typeof pattern === "string"
        ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        : pattern;
      return until(() => out.match(regex) ?? undefined, String(regex), ms);
    },
    waitForLine(prefix, ms = WAIT_MS) {
      return until(() => lines().find((line) => line.startsWith(prefix)), `line ${prefix}…`, ms);
    },
    waitForEvent(match, ms = WAIT_MS) {
      return until(() => events<Parameters<typeof match>[0]>().find(match), "event", ms);
    },
    async report(ms = WAIT_MS) {
      const timer = setTimeout(() => handle.kill(), ms);
      const { code } = await exited.finally(() => clearTimeout(timer));
      try {
        return JSON.parse(lines().at(-1) ?? "");
      } catch {
        throw new Error(`${command} printed no JSON report (exit ${code}):\n${out}\n${err}`);
      }
    },
    tell(line) {
      child.stdin!.write(line + "\n");
    },
    signal(name) {
      if (done || child.pid === undefined) return;
      try {
        process.kill(child.pid, name);
      } catch {
        // Already gone.
      }
    },
    kill() {
      handle.signal("SIGKILL");
    },
  };
  running.add(handle);
  return handle;
}

/**
 * Starts an example on the test's runtime (or `runtime`) with PORT=0 and waits for the line that
 * names its URL. Returns the child and the port it printed.
 */
export async function startExample(
  script: string,
  deadlineMs: number,
  options: { runtime?: Runtime; env?: Record<string, string> } = {},
): Promise<{ child: Child; port: number }> {
  const [command, args] = exampleCommand(script, options.runtime);
  const child = startChild(command, args, { deadlineMs, env: { PORT: "0", ...options.env } });
  try {
    const match = await child.waitFor(/(?:ws|http):\/\/127\.0\.0\.1:(\d+)\//, 30_000);
    return { child, port: Number(match[1]) };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** Starts a child that prints `LISTENING <port>` once it listens; resolves with it and the port. */
export async function startListener(
  command: string,
  args: string[],
  options: ChildOptions,
): Promise<{ child: Child; port: number }> {
  const child = startChild(command, args, options);
  try {
    const line = await child.waitForLine("LISTENING ", 30_000);
    return { child, port: Number(line.slice("LISTENING ".length)) };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** SIGKILLs every child still running; resolves once they have exited. */
export async function killChildren(): Promise<void> {
  const left = [...running];
  for (const child of left) child.kill();
  await Promise.all(left.map((child) => child.exited));
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
