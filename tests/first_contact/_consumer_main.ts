/**
 * A user's first program, importing edgews by its package names (see consumer_test.ts, which
 * runs it inside this repository and from a project outside it, on Deno and on Bun):
 *
 *   npx deno run --allow-net=127.0.0.1 --allow-env tests/first_contact/_consumer_main.ts
 *   npx bun run tests/first_contact/_consumer_main.ts
 *
 * A server on 127.0.0.1 with a Redis backplane pointed at a port where no Redis listens (so the
 * backplane reports one outage, which shows node-redis was loaded and ran, while the server goes
 * on serving locally); an echo through `connect()` and one through the runtime's own `WebSocket`;
 * a `publish` that reaches both; then a graceful shutdown, after which the process must exit by
 * itself. Prints one JSON line with what happened.
 * @module
 */

import { connect, type Message, serve } from "@edgews/edgews";
import { RedisBackplane, type RedisBackplaneEvent } from "@edgews/edgews/redis";
import net from "node:net";

/** A loopback port nothing listens on: one that node:net had, and has closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function show(message: Message | ArrayBuffer): string {
  if (typeof message === "string") return `text ${message}`;
  return `binary ${[...new Uint8Array(message)].join(",")}`;
}

let reportDown!: (event: RedisBackplaneEvent) => void;
const down = new Promise<RedisBackplaneEvent>((resolve) => reportDown = resolve);
const backplane = new RedisBackplane({
  url: `redis://127.0.0.1:${await closedPort()}`,
  onEvent(event) {
    if (event.type === "down") reportDown(event);
  },
});

const server = serve({
  hostname: "127.0.0.1",
  port: 0,
  backplane,
  websocket: {
    open(ws) {
      ws.subscribe("news");
    },
    message(ws, message) {
      ws.send(message);
    },
  },
});
const url = `ws://127.0.0.1:${server.port}/`;

// Our client.
const ours = await within(connect(url), "connect()");
const fromOurs = ours[Symbol.asyncIterator]();
const next = async (what: string) => {
  const result = await within(fromOurs.next(), what);
  if (result.done) throw new Error(`closed before ${what}`);
  return show(result.value);
};
ours.send("héllo ✓");
const echoText = await next("the text echo");
ours.send(new Uint8Array([0, 1, 254, 255]));
const echoBinary = await next("the binary echo");

// The runtime's own client.
const theirs = new WebSocket(url);
theirs.binaryType = "arraybuffer";
const received: string[] = [];
let wake = () => {};
theirs.onmessage = (event) => {
  received.push(show(event.data));
  wake();
};
const untilReceived = (count: number, what: string) =>
  within(
    new Promise<void>((resolve) => {
      wake = () => received.length >= count && resolve();
      wake();
    }),
    what,
  );
await within(new Promise((resolve) => theirs.onopen = resolve), "the runtime's WebSocket to open");
theirs.send("from the runtime's WebSocket");
await untilReceived(1, "the runtime's WebSocket's echo");

// Both are subscribed to "news" (in `open`); the backplane is down, so this is local only.
const published = server.publish("news", "extra");
const news = [await next("the news on our client")];
await untilReceived(2, "the news on the runtime's WebSocket");
news.push(received[1]);

const event = await within(down, "the backplane's down event");

const theirsClosed = new Promise((resolve) => theirs.onclose = resolve);
await server.shutdown({ timeout: 5_000 });
await within(theirsClosed, "the runtime's WebSocket to close");
const ourClose = await ours.closed;

console.log(JSON.stringify({
  runtime: "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node",
  echo: [echoText, echoBinary, received[0]],
  published,
  news,
  backplane: { type: event.type, cause: event.type === "down" ? event.cause : null },
  closed: ourClose.code,
}));
