/**
 * Child processes for the hardening tests: the load driver (Node) and the measured server (the
 * test's own runtime). Every child is killed by {@link killChildren} (call it from `after`) and
 * by its own deadline, whatever happens.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { RUNTIME } from "../helpers/servers.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = `${ROOT}node_modules/.bin/`;

const running = new Set<ChildProcess>();

/** A child process with its output collected line by line. */
export class Child {
  readonly process: ChildProcess;
  #out = "";
  #err = "";
  #exit: { code: number | null; signal: string | null } | null = null;
  #wakers = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  #timer: ReturnType<typeof setTimeout>;

  constructor(
    command: string,
    args: string[],
    deadlineMs: number,
    env: Record<string, string> = {},
  ) {
    const child = this.process = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env, NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    running.add(child);
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      this.#out += chunk;
      this.#wake();
    });
    child.stderr!.on("data", (chunk: string) => this.#err += chunk);
    child.stdin!.on("error", () => {});
    this.#timer = setTimeout(() => this.kill(), deadlineMs);
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        clearTimeout(this.#timer);
        running.delete(child);
        this.#exit = { code, signal };
        this.#wake();
        resolve(this.#exit);
      });
      child.on("error", (error) => {
        this.#err += String(error);
        clearTimeout(this.#timer);
        running.delete(child);
        this.#exit = { code: null, signal: null };
        this.#wake();
        resolve(this.#exit);
      });
    });
  }

  get stdout(): string {
    return this.#out;
  }

  get stderr(): string {
    return this.#err;
  }

  /** Sends a signal by pid (unless it has exited). */
  signal(name: "SIGINT" | "SIGKILL"): void {
    if (this.#exit !== null || this.process.pid === undefined) return;
    try {
      process.kill(this.process.pid, name);
    } catch {
      // Gone already.
    }
  }

  kill(): void {
    this.signal("SIGKILL");
  }

  /** Writes a line to the child's stdin. */
  tell(line: string): void {
    this.process.stdin!.write(line + "\n");
  }

  /** Resolves with the first stdout line that starts with `prefix`; rejects on exit or timeout. */
  waitForLine(prefix: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.#out.split("\n").find((l) => l.startsWith(prefix));
        if (line !== undefined) return done(null, line);
        if (this.#exit !== null) {
          done(
            new Error(`exited (${JSON.stringify(this.#exit)}) before "${prefix}":\n${this.#err}`),
          );
        }
      };
      const timer = setTimeout(
        () => done(new Error(`no "${prefix}" within ${timeoutMs} ms:\n${this.#out}\n${this.#err}`)),
        timeoutMs,
      );
      const done = (error: Error | null, line = "") => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        if (error === null) resolve(line);
        else reject(error);
      };
      this.#wakers.add(check);
      check();
    });
  }

  /** The JSON report a driver prints as its last line, once it has exited. */
  async report<R>(timeoutMs: number): Promise<R> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const { code } = await this.exited;
    clearTimeout(timer);
    const lines = this.#out.trim().split("\n");
    try {
      return JSON.parse(lines[lines.length - 1]) as R;
    } catch {
      throw new Error(`no JSON report (exit ${code}):\n${this.#out}\n${this.#err}`);
    }
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}

/** Starts the Node load driver in `mode` with `config` (it exits by itself after `maxMs`). */
export function startDriver(mode: string, config: Record<string, unknown>): Child {
  const maxMs = (config.maxMs as number | undefined) ?? 60_000;
  return new Child(
    "node",
    ["tests/hardening/_driver.mjs", mode, JSON.stringify({ ...config, maxMs })],
    maxMs + 5_000,
  );
}

/** Server statistics, as tests/hardening/_server.ts reports them. */
export interface ServerStats {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  openFiles: number;
  connectionCount: number;
  statuses: { sent: number; backpressure: number; dropped: number };
  maxBuffered: number;
  drains: number;
  closeCodes: Record<string, number>;
  gc: boolean;
}

/** An edgews echo server in a child process on this test's runtime, with `options`. */
export async function startServerProcess(
  options: Record<string, unknown>,
  maxMs = 120_000,
): Promise<{ child: Child; port: number; stats(): Promise<ServerStats> }> {
  const config = JSON.stringify({ ...options, maxMs });
  const child = RUNTIME === "deno"
    ? new Child(
      `${BIN}deno`,
      ["run", "-A", "--v8-flags=--expose-gc", "tests/hardening/_server.ts", config],
      maxMs + 5_000,
    )
    : new Child(`${BIN}bun`, ["tests/hardening/_server.ts", config], maxMs + 5_000);
  const line = await child.waitForLine("LISTENING ", 30_000);
  const port = Number(line.split(" ")[1]);
  return {
    child,
    port,
    async stats() {
      const response = await fetch(`http://127.0.0.1:${port}/stats`);
      return await response.json() as ServerStats;
    },
  };
}

/** examples/echo.ts on this test's runtime, listening on `port`. */
export function startEchoExample(port: number, deadlineMs: number): Child {
  const env = { PORT: String(port) };
  return RUNTIME === "deno"
    ? new Child(
      `${BIN}deno`,
      ["run", "--allow-net", "--allow-env", "examples/echo.ts"],
      deadlineMs,
      env,
    )
    : new Child(`${BIN}bun`, ["run", "examples/echo.ts"], deadlineMs, env);
}

/** Kills every child still running. */
export function killChildren(): void {
  for (const child of running) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
  running.clear();
}

/** MiB, for messages. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
