/**
 * examples/broadcast.ts across instances: a Deno and a Bun process started as the README says,
 * with REDIS_URL pointing at the test's own redis-server and PORT=0. A message sent to either
 * instance reaches every client of both except its sender, in order, text as text and binary as
 * binary, byte for byte (every byte value, invalid UTF-8, empty, 60 KiB); SIGTERM then closes
 * every client with 1001 and both exit 0. The clients are the runtime's built-in WebSocket.
 *
 * Readiness without sleeping: a client of each instance sends probes until a client of the other
 * instance has received one, which proves both subscriptions are active on Redis; probes are then
 * left out of what is compared.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { HAVE_REDIS, NO_REDIS_REASON, startRedis } from "../helpers/redis_server.ts";
import { killChildren } from "../helpers/processes.ts";
import { skipSuite } from "../helpers/skip.ts";
import { type Instance, startInstance } from "./_example_instances.ts";
import { waitUntil } from "../helpers/timing.ts";

const STEP = 20_000;
const PROBE = "probe ";

type Received = { kind: "text"; data: string } | { kind: "binary"; data: Uint8Array };

interface Client {
  name: string;
  socket: WebSocket;
  /** Everything received, probes included. */
  received: Received[];
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(instance: Instance, name: string): Promise<Client> {
  const socket = new WebSocket(`ws://127.0.0.1:${instance.port}/`);
  socket.binaryType = "arraybuffer";
  const client: Client = {
    name,
    socket,
    received: [],
    closed: new Promise((resolve) => {
      socket.onclose = (event) => resolve({ code: event.code, reason: event.reason });
    }),
  };
  socket.onmessage = (event) => {
    client.received.push(
      typeof event.data === "string"
        ? { kind: "text", data: event.data }
        : { kind: "binary", data: new Uint8Array(event.data as ArrayBuffer) },
    );
  };
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`${name} failed to open`));
  });
  return client;
}

const isProbe = (r: Received) => r.kind === "text" && r.data.startsWith(PROBE);
const withoutProbes = (client: Client) => client.received.filter((r) => !isProbe(r));

/**
 * `from` sends numbered probes, one every 100 ms, until every client in `to` has one of them.
 * Redis delivers one instance's publishes in order, so once a probe has arrived, the receiving
 * instance is subscribed and every later message gets there too.
 */
async function probe(from: Client, to: Client[]): Promise<void> {
  const tag = `${PROBE}${from.name} `;
  const arrived = () =>
    to.every((c) => c.received.some((r) => r.kind === "text" && r.data.startsWith(tag)));
  for (let n = 0; !arrived(); n++) {
    if (n === 200) throw new Error(`no probe from ${from.name} reached ${to.map((c) => c.name)}`);
    from.socket.send(`${tag}${n}`);
    await waitUntil(arrived, 100, "a probe").catch(() => {});
  }
}

describe("examples/broadcast.ts across instances (REDIS_URL)", () => {
  if (!HAVE_REDIS) return skipSuite(NO_REDIS_REASON);

  const sockets: WebSocket[] = [];
  after(async () => {
    for (const socket of sockets) socket.close();
    await killChildren();
  });

  test("a Deno and a Bun instance, one broadcast", { timeout: 6 * STEP }, async () => {
    const redis = await startRedis({ deadlineMs: 6 * STEP });
    const one = await startInstance("examples/broadcast.ts", "deno", redis.url, 5 * STEP);
    const two = await startInstance("examples/broadcast.ts", "bun", redis.url, 5 * STEP);
    for (const { child } of [one, two]) await child.waitFor(/using Redis/, STEP);

    const a1 = await connect(one, "a1");
    const a2 = await connect(one, "a2");
    const b1 = await connect(two, "b1");
    const b2 = await connect(two, "b2");
    const all = [a1, a2, b1, b2];
    sockets.push(...all.map((c) => c.socket));
    await probe(a1, [b1, b2]);
    await probe(b1, [a1, a2]);

    const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
    const invalidUtf8 = new Uint8Array([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]);
    const large = new Uint8Array(60 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 2654435761) >>> 24;
    const rounds: Array<[Client, string | Uint8Array]> = [
      [a1, "from deno: ✓ ü 😀"],
      [a1, everyByte],
      [b1, "from bun"],
      [b2, invalidUtf8],
      [a2, new Uint8Array(0)],
      [b1, large],
      [a2, "\u0000 not binary"],
      [b2, ""],
      [a1, "the last one"],
    ];
    const sent: Array<[Client, Received]> = [];
    const expectedFor = (client: Client) =>
      sent.filter(([from]) => from !== client).map(([, message]) => message);
    // One at a time, each once everyone has the one before: the order is then known everywhere.
    for (const [from, data] of rounds) {
      from.socket.send(data);
      sent.push([
        from,
        typeof data === "string" ? { kind: "text", data } : { kind: "binary", data },
      ]);
      await waitUntil(
        () => all.every((c) => withoutProbes(c).length >= expectedFor(c).length),
        STEP,
        "every other client of both instances to receive the message",
      );
    }
    // Anything extra (a sender's own message coming back through Redis) would have arrived
    // before the next round's message, which went through Redis after it.
    for (const client of all) {
      assert.deepEqual(withoutProbes(client), expectedFor(client), client.name);
      assert.ok(
        !client.received.some((r) =>
          isProbe(r) && (r.data as string).startsWith(`${PROBE}${client.name} `)
        ),
        `${client.name} got its own probe back`,
      );
    }

    // SIGTERM: a graceful shutdown on each (backplane closed too), every client gets 1001.
    for (const instance of [one, two]) instance.child.signal("SIGTERM");
    for (const client of all) {
      assert.deepEqual(await client.closed, { code: 1001, reason: "server shutting down" });
    }
    for (const { child } of [one, two]) {
      assert.deepEqual(await child.exited, { code: 0, signal: null }, child.stderr());
    }
    await redis.stop();
  });
});
