/**
 * Topics across processes through a real Redis: three instances (`_instance.ts`), one on each of
 * Deno, Bun and Node, with 300 built-in WebSocket clients spread over them on 20 topics. Every publish (from a
 * client with `ws.publish`, from a server with `server.publish`) reaches every subscriber of its
 * topic on every instance exactly once, in the publisher's order, text as text and binary byte for
 * byte, never its sender; unsubscribing and every kind of close stop delivery; and an instance
 * listens on Redis only to the topics its own connections follow.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { hex } from "../helpers/bytes.ts";
import { OTHER_RUNTIMES, RUNTIME, type Runtime } from "../helpers/servers.ts";
import {
  HAVE_REDIS,
  NO_REDIS_REASON,
  redisCommand,
  type RedisServer,
  startRedis,
} from "../helpers/redis_server.ts";
import { killChildren } from "../helpers/processes.ts";
import { skipSuite } from "../helpers/skip.ts";
import { StreamClient } from "../helpers/stream_client.ts";
import {
  closeOpenClients,
  connectClient,
  type Instance,
  startInstance,
  statsOf,
  type TopicClient,
} from "./_instances.ts";

const DEADLINE = 5 * 60_000;
/** One instance on each runtime, the test's own first. */
const RUNTIMES: Runtime[] = [RUNTIME, ...OTHER_RUNTIMES];
const CLIENTS = 300;
const TOPICS = 20;
const PUBLISHERS = 30;
const MESSAGES = 10;
const encoder = new TextEncoder();

/** The topics of client `i`: two (or one, where they coincide), spread over all 20. */
function topicsOf(i: number): string[] {
  return [...new Set([`t${i % TOPICS}`, `t${(i * 7 + 3) % TOPICS}`])];
}

/** Message `seq` of publisher `key`: text for even seq, binary (its UTF-8 bytes) for odd. */
function message(key: string, seq: number): { wire: Record<string, unknown>; seen: string } {
  const text = `${key}:${seq}`;
  return seq % 2 === 0
    ? { wire: { data: text }, seen: `T:${text}` }
    : { wire: { bytes: [...encoder.encode(text)] }, seen: `B:${hex(encoder.encode(text))}` };
}

describe(
  `backplane: three instances (${RUNTIMES.join(", ")}) on one Redis`,
  () => {
    if (!HAVE_REDIS) return skipSuite(NO_REDIS_REASON);
    let redis: RedisServer;
    let instances: Instance[];

    before(async () => {
      redis = await startRedis();
      instances = await Promise.all(RUNTIMES.map((r) => startInstance(r, redis.url, DEADLINE)));
    });

    after(async () => {
      closeOpenClients();
      await killChildren();
    });

    /** Waits until every instance's subscriptions are active on Redis. */
    async function settle(clients: TopicClient[]): Promise<void> {
      await Promise.all(
        instances.map((instance) =>
          clients.find((c) => c.instance === instance)!.request({ op: "settle" })
        ),
      );
    }

    test("every publish reaches every subscriber of its topic once, in order, never its sender", async () => {
      const clients: TopicClient[] = [];
      for (let start = 0; start < CLIENTS; start += 50) {
        clients.push(
          ...await Promise.all(
            Array.from(
              { length: Math.min(50, CLIENTS - start) },
              (_, k) =>
                connectClient(instances[(start + k) % 3], `c${start + k}`, topicsOf(start + k)),
            ),
          ),
        );
      }
      await settle(clients);

      // What each client must receive, per publisher, in order.
      const expected = clients.map(() => new Map<string, string[]>());
      const expect = (topic: string, sender: number | null, seen: string, key: string) => {
        clients.forEach((_, i) => {
          if (i === sender || !topicsOf(i).includes(topic)) return;
          const list = expected[i].get(key) ?? [];
          list.push(seen);
          expected[i].set(key, list);
        });
      };
      // Clients publish with ws.publish (which skips the sender), one topic each...
      for (let seq = 0; seq < MESSAGES; seq++) {
        for (let p = 0; p < PUBLISHERS; p++) {
          const topic = `t${p % TOPICS}`;
          const { wire, seen } = message(`c${p}`, seq);
          clients[p].send({ op: "pub", topic, ...wire });
          expect(topic, p, seen, `c${p}`);
        }
      }
      // ...and each server publishes with server.publish to one topic (through a client).
      for (let k = 0; k < instances.length; k++) {
        for (let seq = 0; seq < MESSAGES; seq++) {
          const topic = `t${k * 5}`;
          const { wire, seen } = message(`s${k}`, seq);
          clients[k].send({ op: "spub", topic, ...wire });
          expect(topic, null, seen, `s${k}`);
        }
      }

      const total = (i: number) => [...expected[i].values()].reduce((n, l) => n + l.length, 0);
      await Promise.all(
        clients.map((client, i) =>
          client.until(() => client.received.length >= total(i), 30_000, "every message")
        ),
      );
      // A duplicate would come back through Redis a round trip after the original: give it time.
      await new Promise((resolve) => setTimeout(resolve, 500));
      clients.forEach((client, i) => {
        const byPublisher = new Map<string, string[]>();
        for (const seen of client.received) {
          const key = seen.startsWith("T:")
            ? seen.slice(2).split(":")[0]
            : new TextDecoder().decode(
              Uint8Array.from(seen.slice(2).match(/../g)!, (h) => parseInt(h, 16)),
            ).split(":")[0];
          byPublisher.set(key, [...byPublisher.get(key) ?? [], seen]);
        }
        assert.deepEqual(
          Object.fromEntries(byPublisher),
          Object.fromEntries(expected[i]),
          `client c${i} on the ${client.instance.runtime} instance`,
        );
      });

      // Every instance saw its own publishes come back from Redis and ignored them; none invalid.
      for (const [k, instance] of instances.entries()) {
        const stats = await statsOf(clients[k]);
        assert.equal(stats.state, "up");
        assert.equal(stats.stats.invalid, 0);
        assert.equal(stats.stats.dropped, 0);
        const own = clients.filter((c, i) => c.instance === instance && i < PUBLISHERS).length *
            MESSAGES + MESSAGES;
        assert.equal(stats.stats.published, own, `instance ${k} published`);
        assert.equal(stats.stats.own, own, `instance ${k} ignored its own`);
      }
      for (const client of clients) client.ws.close();
      await Promise.all(clients.map((c) => c.closed));
    });

    test("unsubscribing and every kind of close stop delivery; the last one leaves the channel", async () => {
      const [zero, one, two] = instances;
      const stays = await connectClient(zero, "stays", ["u"]);
      const publisher = await connectClient(two, "publisher", ["u"]);
      const unsubscribes = await connectClient(one, "unsubscribes", ["u"]);
      const closes = await connectClient(one, "closes", ["u"]);
      const dropped = await connectClient(one, "dropped", []);
      const closedByServer = await connectClient(one, "closed-by-server", ["u"]);
      // An abrupt end (no close frame, TCP reset) needs a raw socket: the built-in client can't.
      const abrupt = await StreamClient.open(one.port, { path: "/?id=abrupt&topics=u" });
      assert.equal(await dropped.request({ op: "sub", topic: "u" }), true);
      await settle([stays, unsubscribes, publisher]);
      const numsub = async () =>
        ((await redisCommand(redis.port, ["PUBSUB", "NUMSUB", "edgews:u"])) as [string, number])[1];
      assert.equal(await numsub(), 3, "one subscription on Redis per instance, not per client");

      let sent = 0;
      /** Publishes one more message, waits until `leaver` (still subscribed) has it, then `go`. */
      const leave = async (leaver: () => number, go: () => Promise<unknown>) => {
        publisher.send({ op: "pub", topic: "u", data: `m${sent++}` });
        await waitFor(() => Promise.resolve(leaver() === sent), `m${sent - 1} delivered`);
        await go();
      };
      await leave(
        () => unsubscribes.received.length,
        () => unsubscribes.request({ op: "unsub", topic: "u" }),
      );
      await leave(() => closes.received.length, async () => {
        closes.ws.close(1000);
        await closes.closed;
      });
      await leave(() => abrupt.texts.length, async () => {
        abrupt.destroy();
        // Wait until the instance has seen the reset and dropped the connection.
        await waitFor(async () => (await statsOf(dropped)).connections === 3, "the reset seen");
      });
      await leave(() => dropped.received.length, async () => {
        dropped.ws.close();
        await dropped.closed;
      });
      await leave(() => closedByServer.received.length, async () => {
        closedByServer.send({ op: "bye", code: 1000 });
        assert.equal(await closedByServer.closed, 1000);
      });
      publisher.send({ op: "pub", topic: "u", data: `m${sent++}` });
      await stays.until(() => stays.received.length === sent, 10_000, "the last message");
      // The unsubscribed client is still connected: anything that still reached it would be here
      // by the time the same message has reached the others through Redis.
      await waitFor(async () => (await statsOf(unsubscribes)).connections === 1, "one left");

      const upTo = (n: number) => Array.from({ length: n }, (_, i) => `T:m${i}`);
      assert.deepEqual(stays.received, upTo(sent));
      assert.deepEqual(unsubscribes.received, upTo(1));
      assert.deepEqual(closes.received, upTo(2));
      assert.deepEqual(abrupt.texts.map((text) => `T:${text}`), upTo(3));
      assert.deepEqual(dropped.received, upTo(4));
      assert.deepEqual(closedByServer.received, upTo(5));
      // Instance one has no subscriber left: it has left the channel on Redis.
      await waitFor(async () => await numsub() === 2, "instance one to unsubscribe on Redis");
      await closeAll([stays, publisher, unsubscribes]);
    });

    test("what close callbacks publish during a shutdown still reaches the other instances", async () => {
      const leaving = await startInstance(RUNTIMES[1], redis.url, DEADLINE, {
        CLOSE_PUBLISH: "goodbyes",
      });
      const watcher = await connectClient(instances[0], "watcher", ["goodbyes"]);
      const members = await Promise.all(
        ["m1", "m2", "m3"].map((id) => connectClient(leaving, id, [])),
      );
      await watcher.request({ op: "settle" });
      leaving.child.signal("SIGTERM"); // the instance shuts down gracefully
      assert.deepEqual(await Promise.all(members.map((m) => m.closed)), [1001, 1001, 1001]);
      await leaving.child.exited;
      await watcher.until(() => watcher.received.length === 3, 10_000, "three goodbyes");
      assert.deepEqual(watcher.received.sort(), ["T:left m1", "T:left m2", "T:left m3"]);
      await closeAll([watcher]);
    });

    test("an instance receives from Redis only the topics its connections follow", async () => {
      const [zero, one, two] = instances;
      const a = await connectClient(zero, "only-a", ["only"]);
      const b = await connectClient(one, "only-b", ["only"]);
      const bystander = await connectClient(two, "bystander", ["elsewhere"]);
      await settle([a, b, bystander]);
      const numsub = await redisCommand(redis.port, [
        "PUBSUB",
        "NUMSUB",
        "edgews:only",
        "edgews:elsewhere",
      ]);
      // Instances zero and one follow `only`, instance two only `elsewhere`.
      assert.deepEqual(numsub, ["edgews:only", 2, "edgews:elsewhere", 1]);
      const before = (await statsOf(bystander)).stats.received;
      for (let i = 0; i < 20; i++) a.send({ op: "pub", topic: "only", data: `o${i}` });
      await b.until(() => b.received.length === 20, 10_000, "the 20 messages");
      // The bystander's instance is not subscribed to `only`: Redis sends it nothing. Its own
      // topic's traffic proves the path works and is in order after any stray message would be.
      a.send({ op: "pub", topic: "elsewhere", data: "fence" });
      await bystander.until(() => bystander.received.length === 1, 10_000, "the fence");
      assert.equal((await statsOf(bystander)).stats.received, before + 1);
      await closeAll([a, b, bystander]);
    });
  },
);

async function closeAll(clients: TopicClient[]): Promise<void> {
  for (const client of clients) client.ws.close();
  await Promise.all(clients.map((c) => c.closed));
}

/** Polls `check` every 20 ms until it is true; fails after 10 s naming `what`. */
async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
