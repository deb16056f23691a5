/**
 * A real `redis-server` per test: on 127.0.0.1, on a free port, with no persistence, optionally
 * with a password. It can be killed with SIGKILL mid-test and started again on the same port, the
 * way Redis dies and restarts in production. Every server is a tracked child, so `killChildren`
 * (tests/helpers/processes.ts, from `after`) stops whatever a test left running.
 * @module
 */

import { execFileSync } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { type Child, freePort, startChild } from "./processes.ts";

/** A running (or stopped) Redis server of a test's own. */
export interface RedisServer {
  /** The port it listens (or listened) on; kept across restarts. */
  readonly port: number;
  /** `redis://127.0.0.1:port`, with the password when there is one. */
  readonly url: string;
  /** Whether a redis-server process is running now. */
  readonly running: boolean;
  /** Kills it with SIGKILL (no goodbye to clients) and waits for it to exit. */
  kill(): Promise<void>;
  /** Freezes it with SIGSTOP: its sockets stay open but nothing answers (a hung or cut-off host). */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
  /** Starts it again on the same port, empty (no persistence), and waits until it is ready. */
  restart(): Promise<void>;
  /** Stops it for good. */
  stop(): Promise<void>;
}

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** Require this password (`requirepass`). */
  password?: string;
  /** Listen on this port instead of a free one (e.g. one a client has been retrying). */
  port?: number;
  /** How long the process may live at most, in ms; it is SIGKILLed then. Default 10 minutes. */
  deadlineMs?: number;
}

/** Whether Debian's `redis-server` is installed (the tests that need it say so when it is not). */
export const HAVE_REDIS: boolean = (() => {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Why Redis tests are skipped on a machine without Redis; shown in the test output. */
export const NO_REDIS_REASON = "redis-server is not installed (apt-get install -y redis-server)";

/** Starts a fresh `redis-server` on a free loopback port and waits until it accepts clients. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? await freePort();
  const deadlineMs = options.deadlineMs ?? 10 * 60_000;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--loglevel",
    "notice",
    ...(options.password === undefined ? [] : ["--requirepass", options.password]),
  ];
  let child: Child | null = null;
  const launch = async () => {
    // A restart may race the kernel releasing the port; try a few times.
    for (let attempt = 1;; attempt++) {
      const started = startChild("redis-server", args, { deadlineMs });
      try {
        await started.waitFor(/Ready to accept connections/, 10_000);
        child = started;
        return;
      } catch (error) {
        started.kill();
        await started.exited;
        if (attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  const halt = async (signal: "SIGKILL" | "SIGTERM") => {
    const current: Child | null = child;
    child = null;
    if (current === null) return;
    current.signal(signal);
    await current.exited;
  };
  const signal = (name: "SIGSTOP" | "SIGCONT") => {
    const pid = (child as Child | null)?.process.pid;
    if (pid !== undefined) process.kill(pid, name);
  };
  await launch();
  const auth = options.password === undefined ? "" : `:${encodeURIComponent(options.password)}@`;
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    get running() {
      return child !== null && !(child as Child).done;
    },
    kill: () => halt("SIGKILL"),
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    restart: async () => {
      await halt("SIGKILL");
      await launch();
    },
    stop: () => halt("SIGTERM"),
  };
}

/**
 * Sends one command to the Redis at `port` (RESP, over a fresh connection, after AUTH when a
 * password is given) and returns its reply: what the tests ask Redis itself, e.g.
 * `PUBSUB NUMSUB channel`. A reply is a string, a number, null, or an array of those.
 */
export function redisCommand(
  port: number,
  args: string[],
  password?: string,
): Promise<RespReply> {
  const commands = password === undefined ? [args] : [["AUTH", password], args];
  const wire = commands.map((command) =>
    `*${command.length}\r\n` +
    command.map((arg) => `$${new TextEncoder().encode(arg).length}\r\n${arg}\r\n`).join("")
  ).join("");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(wire));
    let buffer = "";
    const timer = setTimeout(() => fail(new Error(`no reply to ${args.join(" ")}`)), 5_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.setEncoding("utf8");
    socket.on("error", fail);
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const replies: RespReply[] = [];
      let at = 0;
      while (replies.length < commands.length) {
        const parsed = parseReply(buffer, at);
        if (parsed === null) return; // wait for more
        replies.push(parsed.value);
        at = parsed.end;
      }
      clearTimeout(timer);
      socket.destroy();
      const reply = replies[replies.length - 1];
      if (reply instanceof Error) reject(reply);
      else resolve(reply);
    });
  });
}

/** A RESP2 reply. */
export type RespReply = string | number | null | Error | RespReply[];

function parseReply(text: string, at: number): { value: RespReply; end: number } | null {
  const lineEnd = text.indexOf("\r\n", at);
  if (lineEnd === -1) return null;
  const line = text.slice(at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (text[at]) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      // Test replies are ASCII: characters are bytes.
      if (text.length < next + length + 2) return null;
      return { value: text.slice(next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespReply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(text, end);
        if (item === null) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected RESP reply: ${JSON.stringify(text.slice(at, at + 40))}`);
  }
}
