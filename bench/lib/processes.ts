/**
 * Child processes for the benchmark: commands run to completion, and long-running processes
 * (servers, Redis) pinned to CPUs with taskset that say on their output when they are ready.
 *
 * @module
 */

import { ROOT } from "./paths.ts";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `cmd` in the repository root; resolves with its stdout, throws with its stderr. */
export async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Like {@link run}, trimmed, but `fallback` instead of an error (for version probes). */
export async function tryRun(cmd: string[], fallback = "unknown"): Promise<string> {
  try {
    return (await run(cmd)).trim();
  } catch {
    return fallback;
  }
}

/** A loopback port that was free a moment ago (the OS picks it; the server binds it next). */
export async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await sleep(10);
  return port;
}

/** The resident set size of process `pid`, in bytes (from /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

// Every started process, so that an interrupted run (Ctrl-C) can stop them all.
const running = new Set<Proc>();

/** Stops every {@link Proc} still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** A child process pinned with taskset that says when it is ready on its output. */
export class Proc {
  child!: Deno.ChildProcess;
  pid = 0;
  exited = false;
  /** The last 4,000 characters of its stdout and stderr, for error messages. */
  output = "";

  /** `what` names the process in error messages. */
  constructor(readonly what: string) {}

  /** Whether the process is still running. */
  get alive(): boolean {
    return !this.exited;
  }

  /**
   * Starts `cmd` pinned to `cpus` (a taskset CPU list) with the open-files limit raised to the
   * hard limit (10,000 connections need more than the default 1,024). Resolves once its output
   * matches `ready`; throws (with the end of its output) if it exits or stalls first.
   */
  async start(
    cmd: string[],
    cpus: string,
    env: Record<string, string>,
    ready: RegExp,
    timeoutMs = 20000,
  ): Promise<void> {
    this.child = new Deno.Command("bash", {
      args: ["-c", 'ulimit -n "$(ulimit -Hn)"; exec taskset -c "$0" "$@"', cpus, ...cmd],
      cwd: ROOT,
      env: { NODE_ENV: "production", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    running.add(this);
    this.pid = this.child.pid;
    this.child.status.then(() => {
      this.exited = true;
      running.delete(this);
    });
    let onReady: (() => void) | undefined;
    const readyP = new Promise<void>((r) => (onReady = r));
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.output = (this.output + dec.decode(chunk, { stream: true })).slice(-4000);
        if (ready.test(this.output)) onReady?.();
      }
    };
    pump(this.child.stdout).catch(() => {});
    pump(this.child.stderr).catch(() => {});
    const result = await Promise.race([
      readyP.then(() => "ready"),
      this.child.status.then(() => "exited"),
      sleep(timeoutMs).then(() => "timeout"),
    ]);
    if (result !== "ready") {
      await this.stop();
      // deno-lint-ignore no-control-regex
      const lines = this.output.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n");
      const err = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? "";
      throw new Error(
        `${this.what}: ${result} before ready: ${err.trim()}\n    ${
          lines.slice(-8).join("\n    ")
        }`,
      );
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after 3 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const done = await Promise.race([
      this.child.status.then(() => true),
      sleep(3000).then(() => false),
    ]);
    if (!done) {
      try {
        this.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await this.child.status;
    }
  }
}
