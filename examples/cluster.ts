/**
 * Runs an example server as several processes on one port: one worker per core, each listening
 * with SO_REUSEPORT (Linux), so the kernel spreads new connections over them. Supervised: a worker
 * that exits unexpectedly is started again.
 *
 *   npx deno run -A examples/cluster.ts examples/chat/server.ts
 *   npx bun run examples/cluster.ts examples/chat/server.ts
 *   node examples/cluster.ts examples/chat/server.ts
 *
 * Workers run on the launcher's runtime (Deno workers get `run -A --unstable-net`: `reusePort` is
 * unstable in Deno 2). Every worker gets PORT and `REUSE_PORT=1`, which the examples pass to
 * `serve({ reusePort })`; arguments after the script go to the workers.
 *
 * - WORKERS: how many (default: the number of CPUs). PORT: the shared port (default 8080).
 * - Output: each worker's lines, prefixed with its number and pid, and one line once all of them
 *   listen, naming the URL.
 * - A worker that exits while the launcher is not stopping is restarted after 100 ms, doubling up
 *   to 5 s while it keeps failing, back to 100 ms once it has stayed up 10 s.
 * - SIGINT (Ctrl-C) or SIGTERM: every worker gets SIGTERM and shuts down gracefully (the examples
 *   close their connections with 1001); after 15 s the rest are killed. The launcher exits 0 once
 *   every worker has exited, 1 if some had to be killed. A second signal kills them at once.
 *
 * Each worker is a separate server: its own connections, its own topics. `publish` reaches only
 * the worker's own clients unless the server has a backplane.
 *
 * Nothing tells a worker that the launcher itself died: a launcher killed with SIGKILL leaves its
 * workers running (on the port). Under systemd or in a container the whole group goes anyway.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import process from "node:process";
import type { Readable } from "node:stream";
import { env } from "./_env.ts";

const FIRST_RESTART_DELAY = 100;
const MAX_RESTART_DELAY = 5_000;
/** A worker up this long is considered healthy again: its next restart is quick. */
const STABLE_AFTER = 10_000;
/** Longer than a server's default graceful shutdown (its 10 s closeTimeout). */
const SHUTDOWN_TIMEOUT = 15_000;

const USAGE = `usage: npx deno run -A examples/cluster.ts SCRIPT [ARGS...]
       npx bun run examples/cluster.ts SCRIPT [ARGS...]
WORKERS (default: number of CPUs) and PORT (default 8080) are read from the environment.`;

/** One worker slot: the process in it now, and its restart history. */
interface Slot {
  readonly id: number;
  child: ChildProcess | null;
  startedAt: number;
  /** Whether this slot has printed its URL since the current process started. */
  listening: boolean;
  nextDelay: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
}

const [script, ...scriptArgs] = process.argv.slice(2);
if (script === undefined || script === "-h" || script === "--help") fail(USAGE);
if (!existsSync(script)) fail(`${script}: no such file\n${USAGE}`);
const workers = integerFromEnv("WORKERS", navigator.hardwareConcurrency ?? availableParallelism());
// PORT=0 would give each worker a different random port: nothing shared.
const port = integerFromEnv("PORT", 8080);
if (workers < 1) fail("WORKERS must be at least 1");
if (port < 1 || port > 65535) fail("PORT must be between 1 and 65535 (0 cannot be shared)");

const [command, runtimeArgs] = "Deno" in globalThis
  // -A: the launcher was given -A to spawn processes at all, so this grants nothing new, and the
  // workers may need whatever the example needs (net, env, a backplane's config file...).
  ? [process.execPath, ["run", "-A", "--unstable-net"]]
  : "Bun" in globalThis
  ? [process.execPath, ["run"]]
  : [process.execPath, []];

const slots: Slot[] = Array.from({ length: workers }, (_, i) => ({
  id: i + 1,
  child: null,
  startedAt: 0,
  listening: false,
  nextDelay: FIRST_RESTART_DELAY,
  restartTimer: undefined,
}));
let announced = false;
let stopping = false;
let killed = false;

log(`starting ${workers} worker${workers === 1 ? "" : "s"} of ${script} on port ${port}`);
for (const slot of slots) start(slot);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => stop(signal));

function start(slot: Slot): void {
  slot.restartTimer = undefined;
  slot.listening = false;
  slot.startedAt = Date.now();
  const child = spawn(command, [...runtimeArgs, script, ...scriptArgs], {
    env: { ...process.env, PORT: String(port), REUSE_PORT: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  slot.child = child;
  const prefix = `[worker ${slot.id}, pid ${child.pid}] `;
  log(`worker ${slot.id} started, pid ${child.pid}`);
  forwardLines(child.stdout!, prefix, (line) => {
    if (slot.listening) return;
    const url = line.match(/\b(?:wss?|https?):\/\/[^\s)]+/);
    if (url === null) return;
    slot.listening = true;
    if (!announced && slots.every((s) => s.listening)) {
      announced = true;
      const pids = slots.map((s) => s.child?.pid).join(", ");
      log(`${workers} worker${workers === 1 ? "" : "s"} listening on ${url[0]} (pids ${pids})`);
    }
  }, process.stdout);
  forwardLines(child.stderr!, prefix, () => {}, process.stderr);
  let gone = false;
  const exited = (code: number | null, signal: string | null, error?: Error) => {
    if (gone) return;
    gone = true;
    slot.child = null;
    const how = error !== undefined
      ? `failed to start (${error.message})`
      : signal !== null
      ? `was killed by ${signal}`
      : `exited with code ${code}`;
    if (stopping) {
      if (slots.every((s) => s.child === null)) finish();
      return;
    }
    // Quick restarts for a worker that was healthy a while; growing waits for one crashing on start.
    if (Date.now() - slot.startedAt >= STABLE_AFTER) slot.nextDelay = FIRST_RESTART_DELAY;
    const delay = slot.nextDelay;
    slot.nextDelay = Math.min(delay * 2, MAX_RESTART_DELAY);
    log(`worker ${slot.id} (pid ${child.pid}) ${how}; restarting in ${delay} ms`);
    slot.restartTimer = setTimeout(() => {
      // Checked again: a Ctrl-C reaches the workers and the launcher together, and a worker may
      // exit before the launcher has seen its own signal.
      if (!stopping) start(slot);
    }, delay);
  };
  child.on("error", (error) => exited(null, null, error));
  // "close", not "exit": by then the worker's last lines (its "shutting down") are forwarded.
  child.on("close", (code, signal) => exited(code, signal));
}

function stop(signal: string): void {
  if (stopping) {
    log(`${signal} again: killing the workers`);
    killAll();
    return;
  }
  stopping = true;
  const running = slots.filter((s) => s.child !== null);
  log(`${signal}: stopping ${running.length} worker${running.length === 1 ? "" : "s"}`);
  for (const slot of slots) clearTimeout(slot.restartTimer);
  if (running.length === 0) return finish();
  for (const slot of running) send(slot.child!, "SIGTERM");
  setTimeout(() => {
    log(`workers still running after ${SHUTDOWN_TIMEOUT} ms: killing them`);
    killAll();
  }, SHUTDOWN_TIMEOUT);
}

function killAll(): void {
  for (const slot of slots) {
    if (slot.child === null) continue;
    killed = true;
    send(slot.child, "SIGKILL");
  }
}

function finish(): void {
  log(killed ? "stopped (some workers had to be killed)" : "all workers stopped");
  process.exit(killed ? 1 : 0);
}

/**
 * Signals by pid rather than with `child.kill()`: Deno's `kill()` refuses a second signal once
 * it sent one, and the SIGKILL after a SIGTERM must get through.
 */
function send(child: ChildProcess, signal: "SIGTERM" | "SIGKILL"): void {
  if (child.pid === undefined) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // Exited in the meantime.
  }
}

/** Copies `input` to `output` line by line, each line prefixed, and shows each line to `onLine`. */
function forwardLines(
  input: Readable,
  prefix: string,
  onLine: (line: string) => void,
  output: { write(text: string): unknown },
): void {
  let partial = "";
  input.setEncoding("utf8");
  input.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      output.write(prefix + line + "\n");
      onLine(line);
    }
  });
  input.on("end", () => {
    if (partial !== "") output.write(prefix + partial + "\n");
  });
}

function integerFromEnv(name: string, fallback: number): number {
  const text = env(name);
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value)) fail(`${name} must be an integer, not ${JSON.stringify(text)}`);
  return value;
}

function log(line: string): void {
  console.log(`[cluster] ${line}`);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
