/**
 * Instances of a scaled-out application for the backplane tests: `_instance.ts` child processes
 * (on Deno, Bun or Node) sharing a test Redis, and built-in `WebSocket` clients that talk to them with
 * the instance's JSON commands and record every data message they receive.
 * @module
 */

import { type Child, scriptCommand, startChild } from "../helpers/processes.ts";
import type { Runtime } from "../helpers/servers.ts";
import type { RedisBackplaneStats } from "../../redis.ts";
import { hex } from "../helpers/bytes.ts";
import { within } from "../helpers/timing.ts";

/** A running instance: its process, port and the backplane events it printed. */
export interface Instance {
  child: Child;
  port: number;
  runtime: Runtime;
  /** The backplane events printed so far, oldest first. */
  events(): InstanceEvent[];
}

/** A backplane event as `_instance.ts` prints it. */
export interface InstanceEvent {
  type: "up" | "down" | "recovered";
  cause?: string;
  error?: string;
  downtimeMs?: number;
  dropped?: number;
}

/** Starts `_instance.ts` on `runtime` with `REDIS_URL=url`; resolves once it listens. */
export async function startInstance(
  runtime: Runtime,
  url: string,
  deadlineMs: number,
  env: Record<string, string> = {},
): Promise<Instance> {
  const [command, args] = scriptCommand(runtime, "tests/scaleout/_instance.ts", [], {
    exposeGc: true,
  });
  const child = startChild(command, args, { deadlineMs, env: { ...env, REDIS_URL: url } });
  const match = await child.waitFor(/listening (\d+)/, 30_000);
  return {
    child,
    port: Number(match[1]),
    runtime,
    events: () =>
      [...child.stdout().matchAll(/^event (.*)$/gm)].map((m) => JSON.parse(m[1]) as InstanceEvent),
  };
}

/** Waits until `instance` has printed an event matching `match`; returns it. */
export async function waitForEvent(
  instance: Instance,
  match: (event: InstanceEvent) => boolean,
  ms: number,
): Promise<InstanceEvent> {
  const deadline = Date.now() + ms;
  while (true) {
    const found = instance.events().find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline || instance.child.done) {
      throw new Error(
        `no matching event from the ${instance.runtime} instance within ${ms} ms; events: ` +
          JSON.stringify(instance.events()) + `\nstderr: ${instance.child.stderr()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A client of an instance: data messages as `T:text` or `B:hex-of-the-bytes`, in order. */
export interface TopicClient {
  id: string;
  instance: Instance;
  ws: WebSocket;
  /** Data messages received (acknowledgements excluded), oldest first. */
  received: string[];
  /** Sends a command and waits for its acknowledgement's result. */
  request(command: Record<string, unknown>, ms?: number): Promise<unknown>;
  /** Sends a command that is not acknowledged (pub, spub). */
  send(command: Record<string, unknown>): void;
  /** Waits until `predicate()` holds, checking after every message. */
  until(predicate: () => boolean, ms: number, what: string): Promise<void>;
  /** Settles with the close event's code. */
  closed: Promise<number>;
}

const opened = new Set<TopicClient>();

/** Closes every client {@link connectClient} opened that is still open (from `after`). */
export function closeOpenClients(): void {
  for (const client of opened) client.ws.close();
  opened.clear();
}

/** Connects client `id` to `instance`, subscribed to `topics` from the start. */
export async function connectClient(
  instance: Instance,
  id: string,
  topics: string[],
  ms = 10_000,
): Promise<TopicClient> {
  const url = `ws://127.0.0.1:${instance.port}/?id=${id}&topics=${topics.join(",")}`;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const received: string[] = [];
  const acks = new Map<number, (result: unknown) => void>();
  const watchers = new Set<() => void>();
  let seq = 0;
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      if (event.data.startsWith('{"ack"')) {
        const ack = JSON.parse(event.data);
        acks.get(ack.seq)?.(ack.result);
        acks.delete(ack.seq);
        return;
      }
      received.push(`T:${event.data}`);
    } else {
      received.push(`B:${hex(new Uint8Array(event.data as ArrayBuffer))}`);
    }
    for (const watch of [...watchers]) watch();
  };
  const closed = new Promise<number>((resolve) => {
    ws.onclose = (event) => {
      resolve(event.code);
      for (const watch of [...watchers]) watch();
    };
  });
  await within(
    new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`${url} failed to open`));
    }),
    ms,
    `opening ${url}`,
  );
  const client: TopicClient = {
    id,
    instance,
    ws,
    received,
    request(command, timeout = 10_000) {
      const mine = ++seq;
      ws.send(JSON.stringify({ ...command, seq: mine }));
      return within(
        new Promise((resolve) => acks.set(mine, resolve)),
        timeout,
        `${id}'s ${command.op}`,
      );
    },
    send(command) {
      ws.send(JSON.stringify(command));
    },
    until(predicate, timeout, what) {
      return within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (!predicate()) return;
            watchers.delete(check);
            resolve();
          };
          watchers.add(check);
          check();
        }),
        timeout,
        `${id}: ${what}`,
      ).catch((error) => {
        throw new Error(`${error.message} (received ${received.length} by then)`);
      });
    },
    closed,
  };
  opened.add(client);
  closed.then(() => opened.delete(client));
  return client;
}

/** The backplane's state and counters of an instance, asked through one of its clients. */
export interface InstanceStats {
  state: string;
  stats: RedisBackplaneStats;
  rss: number;
  /** Heap in use plus external memory (array buffers): what the process holds. */
  held: number;
  connections: number;
}

/** Asks an instance for its stats through `client` (after collecting garbage, with `gc`). */
export async function statsOf(client: TopicClient, gc = false): Promise<InstanceStats> {
  return await client.request({ op: "stats", gc }) as InstanceStats;
}
