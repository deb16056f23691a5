/**
 * examples/chat/server.ts across instances: a Deno and a Bun process started as the README says,
 * with REDIS_URL pointing at the test's own redis-server and PORT=0, are one room.
 *
 * - A message sent through one instance reaches the other's clients with the same id; a newcomer
 *   on the other instance gets it in its history; the member list shows the users of both, in
 *   join order; `since` gives exactly the messages after an id, on either instance. An instance
 *   stopped with SIGTERM takes its users off the list at once (well before their leases run out),
 *   closes its clients with 1001 and exits 0.
 * - An instance killed with SIGKILL (no goodbye): its users leave the other instance's list once
 *   their leases run out (read from Redis: renewed within a tick before the kill, for LEASE_MS),
 *   not before, within a tick after (plus slack), and within LEASE_MS + 2 × TICK_MS of the kill;
 *   the other instance goes on.
 * - Redis killed while the chat runs: neither process crashes, local chat goes on (messages with
 *   `id: null` and an error to the sender, newcomers told that history and list are unavailable),
 *   each process says so once (not once per retry or per message), and once Redis is back (empty)
 *   the room is whole again: lists restored, messages across instances again.
 * - Redis frozen (SIGSTOP: connected, silent): messages wait at most the store's 2 s deadline,
 *   then go out locally at once until Redis answers again.
 *
 * The clients are the runtime's built-in WebSocket.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import {
  HAVE_REDIS,
  NO_REDIS_REASON,
  type RedisServer,
  startRedis,
} from "../helpers/redis_server.ts";
import { killChildren } from "../helpers/processes.ts";
import { skipSuite } from "../helpers/skip.ts";
import { createClient } from "redis";
import { LEASE_MS, TICK_MS } from "../../examples/chat/redis_store.ts";
import { type Instance, startInstance } from "./_example_instances.ts";
import { waitUntil } from "../helpers/timing.ts";

const STEP = 20_000;
const ID = /^\d+-\d+$/;

// deno-lint-ignore no-explicit-any
type Json = any;

interface ChatClient {
  name: string;
  socket: WebSocket;
  uid: string;
  /** Every message received, parsed, with its arrival time (Date.now()). */
  received: Array<{ at: number; data: Json }>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Joins the room through `instance`; resolves once the welcome and the history arrived. */
async function join(instance: Instance, name: string, since?: string): Promise<ChatClient> {
  const query = since === undefined ? "" : `?since=${encodeURIComponent(since)}`;
  const socket = new WebSocket(`ws://127.0.0.1:${instance.port}/chat${query}`, "chat");
  const received: ChatClient["received"] = [];
  socket.onmessage = (event) => received.push({ at: Date.now(), data: JSON.parse(event.data) });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.onclose = (event) => resolve({ code: event.code, reason: event.reason });
  });
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`${name} failed to open`));
  });
  await waitUntil(
    () => received.some((r) => r.data.type === "history"),
    STEP,
    `${name}'s history`,
  );
  assert.equal(received[0].data.type, "welcome");
  return { name, socket, uid: received[0].data.uid, received, closed };
}

const ofType = (client: ChatClient, type: string): Json[] =>
  client.received.filter((r) => r.data.type === type).map((r) => r.data);
const messagesOf = (client: ChatClient) => ofType(client, "message");
const historyOf = (client: ChatClient) => ofType(client, "history")[0].messages;
const errorsOf = (client: ChatClient) => ofType(client, "error").map((e) => e.error);
/** The member list the client should show: the presence with the highest version. */
function usersOf(client: ChatClient): string[] | undefined {
  let latest: Json;
  for (const p of ofType(client, "presence")) if (!latest || p.version > latest.version) latest = p;
  return latest?.users;
}
const sorted = (uids: string[]) => [...uids].sort();

/** Sends `text` from `client` and waits for its own copy; returns the message as it came back. */
async function say(client: ChatClient, text: string): Promise<Json> {
  client.socket.send(JSON.stringify({ message: text }));
  let copy: Json;
  await waitUntil(
    () => (copy = messagesOf(client).find((m) => m.message === text)) !== undefined,
    STEP,
    `${client.name}'s own copy of ${JSON.stringify(text)}`,
  );
  return copy;
}

async function waitForMessage(client: ChatClient, text: string, ms = STEP): Promise<Json> {
  let found: Json;
  await waitUntil(
    () => (found = messagesOf(client).find((m) => m.message === text)) !== undefined,
    ms,
    `${client.name} to receive ${JSON.stringify(text)}`,
  );
  return found;
}

async function waitForUsers(client: ChatClient, uids: string[], ms = STEP): Promise<void> {
  await waitUntil(
    () => JSON.stringify(sorted(usersOf(client) ?? [])) === JSON.stringify(sorted(uids)),
    ms,
    `${client.name}'s list to be ${uids.length} users (it is ${JSON.stringify(usersOf(client))})`,
  );
}

/**
 * The member list's leases as the chat keeps them in Redis (see examples/chat/redis_store.ts):
 * uid → when its lease runs out, in ms.
 */
async function leasesIn(url: string): Promise<Map<string, number>> {
  const client = createClient({ url });
  await client.connect();
  try {
    const members = await client.zRangeWithScores("chat:presence", 0, -1);
    return new Map(members.map(({ value, score }) => [value.slice(value.indexOf(":") + 1), score]));
  } finally {
    client.destroy();
  }
}

/**
 * The pid of the test's redis-server on `port`, from /proc (it names itself
 * `redis-server 127.0.0.1:<port>`, after the path it was started by: Deno passes the full one),
 * to freeze it with SIGSTOP.
 */
function redisPid(port: number): number {
  const title = new RegExp(`^(\\S*/)?redis-server 127\\.0\\.0\\.1:${port}(\\s|\\0|$)`);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
      if (title.test(cmdline)) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error(`no redis-server on port ${port}`);
}

/** Redis and a Deno and a Bun instance of the chat on it. */
async function startRoom(): Promise<{ redis: RedisServer; one: Instance; two: Instance }> {
  const redis = await startRedis({ deadlineMs: 6 * STEP });
  const one = await startInstance("examples/chat/server.ts", "deno", redis.url, 5 * STEP);
  const two = await startInstance("examples/chat/server.ts", "bun", redis.url, 5 * STEP);
  for (const { child } of [one, two]) await child.waitFor(/using Redis/, STEP);
  return { redis, one, two };
}

describe("examples/chat/server.ts across instances (REDIS_URL)", () => {
  if (!HAVE_REDIS) return skipSuite(NO_REDIS_REASON);

  const sockets: WebSocket[] = [];
  const tracked = async (...args: Parameters<typeof join>) => {
    const client = await join(...args);
    sockets.push(client.socket);
    return client;
  };
  after(async () => {
    for (const socket of sockets) socket.close();
    await killChildren();
  });

  test("one room across a Deno and a Bun instance", { timeout: 6 * STEP }, async () => {
    const { redis, one, two } = await startRoom();
    const a = await tracked(one, "a");
    const b = await tracked(two, "b");
    // Users of both instances, in the order they joined.
    await waitForUsers(a, [a.uid, b.uid]);
    await waitForUsers(b, [a.uid, b.uid]);
    assert.deepEqual(usersOf(a), [a.uid, b.uid]);
    assert.deepEqual(usersOf(b), [a.uid, b.uid]);

    // Across instances, both ways, with the same id everywhere. Once a client has its history,
    // its instance is subscribed: nothing published after that is missed.
    const fromDeno = await say(a, "hello from the Deno instance");
    assert.match(fromDeno.id, ID);
    assert.deepEqual(await waitForMessage(b, fromDeno.message), fromDeno);
    const fromBun = await say(b, "hello from the Bun instance");
    assert.deepEqual(await waitForMessage(a, fromBun.message), fromBun);

    // A newcomer on either instance gets both in its history, and is listed everywhere.
    const c = await tracked(two, "c");
    assert.deepEqual(historyOf(c).slice(-2), [fromDeno, fromBun].map(({ type: _, ...m }) => m));
    for (const client of [a, b, c]) await waitForUsers(client, [a.uid, b.uid, c.uid]);
    assert.deepEqual(usersOf(c), [a.uid, b.uid, c.uid]);

    // since: exactly the messages after the id, from either instance.
    const later = [await say(a, "later 1"), await say(c, "later 2"), await say(a, "later 3")];
    await waitForMessage(b, "later 3");
    const stored = [fromBun, ...later].map(({ type: _, ...m }) => m);
    const onOne = [a];
    const onTwo = [b, c];
    for (const [instance, clients] of [[one, onOne], [two, onTwo]] as const) {
      const d = await tracked(instance, `since on ${instance.runtime}`, fromDeno.id);
      assert.deepEqual(historyOf(d), stored, `since on ${instance.runtime}`);
      const e = await tracked(instance, `since the last on ${instance.runtime}`, later[2].id);
      assert.deepEqual(historyOf(e), []);
      clients.push(d, e);
    }
    // Every client saw each message once.
    for (const client of [a, b]) {
      const texts = messagesOf(client).map((m) => m.message);
      assert.deepEqual(texts, [...new Set(texts)], `${client.name} got a message twice`);
    }

    // SIGTERM: the Deno instance takes its users off the list as it shuts down (they leave at
    // once, not when their leases run out), closes its clients with 1001 and exits 0.
    const everyone = [...onOne, ...onTwo].map((client) => client.uid);
    await waitForUsers(b, everyone);
    const stoppedAt = Date.now();
    one.child.signal("SIGTERM");
    await waitForUsers(b, onTwo.map((client) => client.uid), LEASE_MS - TICK_MS);
    console.log(`the stopped instance's users left the list ${Date.now() - stoppedAt} ms after`);
    for (const client of onOne) {
      assert.deepEqual(await client.closed, { code: 1001, reason: "server shutting down" });
    }
    assert.deepEqual(await one.child.exited, { code: 0, signal: null }, one.child.stderr());
    await redis.stop();
  });

  test(
    "an instance killed with SIGKILL: its users leave the list within the lease",
    { timeout: 6 * STEP },
    async () => {
      const { redis, one, two } = await startRoom();
      const a1 = await tracked(one, "a1");
      const a2 = await tracked(one, "a2");
      const b = await tracked(two, "b");
      await waitForUsers(b, [a1.uid, a2.uid, b.uid]);
      const before = await say(a1, "before the kill");
      await waitForMessage(b, before.message);

      const killedAt = Date.now();
      one.child.signal("SIGKILL");
      assert.deepEqual(await one.child.exited, { code: null, signal: "SIGKILL" });
      // The leases it left behind, as Redis has them (ms, Redis's clock, which is this machine's).
      const leases = await leasesIn(redis.url);
      const leaseOf = (uid: string) => {
        assert.ok(leases.has(uid), `${uid} has a lease in Redis`);
        return leases.get(uid)!;
      };
      // Renewed within a tick before the kill, for LEASE_MS (a little slack for round trips).
      for (const { uid } of [a1, a2]) {
        const left = leaseOf(uid) - killedAt;
        assert.ok(left >= LEASE_MS - TICK_MS - 200 && left <= LEASE_MS + 200, `lease: ${left} ms`);
      }
      // Waited for longer than the bound, so that a late removal is reported with its time.
      await waitForUsers(b, [b.uid], LEASE_MS + 4 * TICK_MS);
      // One list per removal: the two leases may run out in different ticks (a lease set at
      // join is renewed only from the next tick on).
      const removals = b.received.filter((r) =>
        r.data.type === "presence" && r.at >= killedAt && r.data.expired !== undefined
      );
      const expired = removals.flatMap((r) => r.data.expired);
      assert.deepEqual(sorted(expired), sorted([a1.uid, a2.uid]));
      // Nobody is removed before their lease has run out, and each within a tick after it (the
      // Bun instance looks every tick; half a tick of slack for a loaded machine).
      for (const removal of removals) {
        for (const uid of removal.data.expired) {
          const late = removal.at - leaseOf(uid);
          assert.ok(late >= -50, `removed ${-late} ms before its lease ran out`);
          assert.ok(late <= TICK_MS + 500, `removed ${late} ms after its lease ran out`);
        }
      }
      // The Bun instance looks every tick, so the last lease to run out (at most LEASE_MS after
      // the kill) is gone within LEASE_MS + TICK_MS; one more tick of slack for a loaded machine.
      const elapsed = removals.at(-1)!.at - killedAt;
      assert.ok(elapsed <= LEASE_MS + 2 * TICK_MS, `removed ${elapsed} ms after the kill`);
      console.log(`the killed instance's users left the list ${elapsed} ms after the kill`);

      // The Bun instance goes on: messages, newcomers, history.
      const after = await say(b, "after the kill");
      const c = await tracked(two, "c");
      assert.deepEqual(
        historyOf(c).slice(-2),
        [before, after].map(({ type: _, ...m }) => m),
      );
      await waitForUsers(c, [b.uid, c.uid]);
      await waitForUsers(b, [b.uid, c.uid]);
      assert.equal(two.child.done, false);
      await redis.stop();
    },
  );

  test(
    "Redis killed: local chat goes on, each process says so once, and recovers",
    { timeout: 6 * STEP },
    async () => {
      const { redis, one, two } = await startRoom();
      const a1 = await tracked(one, "a1");
      const a2 = await tracked(one, "a2");
      const b1 = await tracked(two, "b1");
      const b2 = await tracked(two, "b2");
      for (const client of [a1, a2, b1, b2]) {
        await waitForUsers(client, [a1.uid, a2.uid, b1.uid, b2.uid]);
      }

      await redis.kill();
      // The chat runs through the outage: on each instance, messages reach the local members
      // (not kept: id null, and the sender is told), for about three seconds of retries.
      const outageStart = Date.now();
      for (let round = 0; Date.now() - outageStart < 3_000; round++) {
        for (const { child, runtime } of [one, two]) {
          assert.equal(child.done, false, `the ${runtime} instance exited:\n${child.stderr()}`);
        }
        for (const [from, to] of [[a1, a2], [b1, b2]]) {
          const text = `${from.name} during the outage ${round}`;
          const copy = await say(from, text);
          assert.equal(copy.id, null);
          assert.deepEqual(await waitForMessage(to, text), copy);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (const from of [a1, b1]) {
        assert.ok(errorsOf(from).some((e) => /not kept in the history/.test(e)), from.name);
      }
      // A newcomer is told that history and list are unavailable, and chats locally.
      const newcomer = await tracked(one, "newcomer");
      await waitUntil(
        () => errorsOf(newcomer).some((e) => /member list is unavailable/.test(e)),
        STEP,
        "the newcomer to be told the list is unavailable",
      );
      assert.deepEqual(historyOf(newcomer), []);
      assert.ok(errorsOf(newcomer).some((e) => /history is unavailable/.test(e)));
      const hello = await say(newcomer, "hello during the outage");
      await waitForMessage(a1, hello.message);

      for (const instance of [one, two]) {
        assert.equal(instance.child.done, false, `${instance.runtime} instance exited`);
        const output = instance.child.stdout() + instance.child.stderr();
        const storeLines = output.split("\n").filter((l) => /^chat: Redis at \S+ failed/.test(l));
        assert.equal(storeLines.length, 1, `${instance.runtime}:\n${output}`);
        // The backplane's own report: once per outage (and per change of its cause).
        const backplaneLines = output.split("\n").filter((l) =>
          /^edgews: Redis .* (is|stopped|failed)/.test(l)
        );
        assert.ok(
          backplaneLines.length >= 1 && backplaneLines.length <= 2,
          `${instance.runtime}:\n${output}`,
        );
      }

      // Redis is back, empty: each instance lists its members again, and messages cross again.
      await redis.restart();
      const everyone = [a1.uid, a2.uid, b1.uid, b2.uid, newcomer.uid];
      for (const client of [a1, b1, newcomer]) await waitForUsers(client, everyone);
      for (let n = 0;; n++) {
        const text = `after the outage ${n}`;
        const copy = await say(a1, text);
        const arrived = await waitForMessage(b1, text, 1_000).catch(() => null);
        if (copy.id !== null && arrived !== null) {
          assert.deepEqual(arrived, copy);
          break;
        }
        assert.ok(n < 20, "messages cross instances again once Redis is back");
      }
      for (const instance of [one, two]) {
        const output = instance.child.stdout() + instance.child.stderr();
        const back = output.split("\n").filter((l) => /^chat: Redis at \S+ is back/.test(l));
        assert.equal(back.length, 1, `${instance.runtime}:\n${output}`);
      }
      await redis.stop();
    },
  );

  test(
    "Redis frozen: local messages wait at most the deadline, then go out at once",
    { timeout: 6 * STEP },
    async () => {
      const { redis, one, two } = await startRoom();
      const pid = redisPid(redis.port);
      const a1 = await tracked(one, "a1");
      const a2 = await tracked(one, "a2");
      const b1 = await tracked(two, "b1");
      const b2 = await tracked(two, "b2");
      await waitForUsers(b1, [a1.uid, a2.uid, b1.uid, b2.uid]);
      process.kill(pid, "SIGSTOP");
      try {
        for (const [from, to] of [[a1, a2], [b1, b2]]) {
          // The first waits for the store's deadline (2 s: a frozen Redis says nothing), ...
          const sentAt = Date.now();
          const first = await say(from, `${from.name} while Redis is frozen`);
          assert.equal(first.id, null);
          assert.deepEqual(await waitForMessage(to, first.message), first);
          const waited = Date.now() - sentAt;
          assert.ok(waited <= 2_000 + TICK_MS, `the first message waited ${waited} ms`);
          // ... the next ones do not wait for Redis at all (well under the deadline).
          const nextAt = Date.now();
          const next = await say(from, `${from.name} again while Redis is frozen`);
          assert.equal(next.id, null);
          assert.ok(Date.now() - nextAt < 1_000, `the next one waited ${Date.now() - nextAt} ms`);
        }
      } finally {
        process.kill(pid, "SIGCONT");
      }
      // Redis answers again: messages are kept and cross instances again.
      for (let n = 0;; n++) {
        const copy = await say(a1, `after the freeze ${n}`);
        const arrived = await waitForMessage(b1, copy.message, 1_000).catch(() => null);
        if (copy.id !== null && arrived !== null) break;
        assert.ok(n < 20, "messages cross instances again once Redis answers");
      }
      await redis.stop();
    },
  );
});
