/**
 * Fan-out over real sockets: 1,000 raw `node:net` subscribers spread over four topics (and all on
 * a fifth) each receive every message published to their topics exactly once and in publish
 * order, text as text and binary as binary, whether the server or a connection publishes; a
 * connection that publishes does not get its own message.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OP } from "../helpers/wire.ts";
import { startPubSubServer } from "./_server.ts";
import { StreamClient } from "../helpers/stream_client.ts";
import { waitUntil } from "../helpers/timing.ts";

const SUBSCRIBERS = 1_000;
const TOPICS = ["t0", "t1", "t2", "t3"];
const EVERYONE = "everyone";
const STEP = 30_000;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A frame as "text:…" or "binary:…", to compare sequences in one assertion. */
function describeFrame(frame: { opcode: number; payload: Uint8Array }): string {
  const kind = frame.opcode === OP.text ? "text" : frame.opcode === OP.binary ? "binary" : "op";
  return `${kind}:${decoder.decode(frame.payload)}`;
}

function isEnd(frame: { opcode: number; payload: Uint8Array } | undefined): boolean {
  return frame !== undefined && frame.opcode === OP.text && decoder.decode(frame.payload) === "end";
}

/** Opens `count` clients, `batch` at a time; `spec(i)` gives each one's path. */
async function openMany(
  port: number,
  count: number,
  spec: (i: number) => string,
  batch = 100,
): Promise<StreamClient[]> {
  const clients: StreamClient[] = [];
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from(
        { length: Math.min(batch, count - i) },
        (_, k) => StreamClient.open(port, { path: spec(i + k) }),
      ),
    );
    clients.push(...opened);
  }
  return clients;
}

describe("publish to 1,000 subscribers", () => {
  const opened: StreamClient[] = [];
  let stop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const client of opened) client.destroy();
    await stop?.();
  });

  test(
    "each gets every message of its topics exactly once, in order",
    { timeout: 4 * STEP },
    async () => {
      const { server, errors } = startPubSubServer();
      stop = () => server.stop();
      const subscribers = await openMany(
        server.port,
        SUBSCRIBERS,
        (i) => `/?id=s${i}&topics=${TOPICS[i % TOPICS.length]},${EVERYONE}`,
      );
      opened.push(...subscribers);
      const publisher = await StreamClient.open(server.port, {
        path: `/?id=pub&topics=${EVERYONE}`,
      });
      opened.push(publisher);

      assert.equal(server.connectionCount, SUBSCRIBERS + 1);
      for (const topic of TOPICS) assert.equal(server.subscriberCount(topic), SUBSCRIBERS / 4);
      assert.equal(server.subscriberCount(EVERYONE), SUBSCRIBERS + 1);
      assert.equal(server.subscriberCount("nobody"), 0);
      assert.equal(server.publish("nobody", "lost"), 0);

      // What each topic's subscribers should see, in order; filled as messages are published.
      const expected = new Map<string, string[]>(TOPICS.map((t) => [t, []]));
      // The publisher subscribes to EVERYONE too, and gets its acks.
      const expectedByPublisher: string[] = [];
      const expectForAll = (line: string) => {
        for (const list of expected.values()) list.push(line);
      };

      // Phase 1: the server publishes, interleaving topics, every third message binary.
      for (let n = 0; n < 60; n++) {
        const topic = n % 5 === 4 ? EVERYONE : TOPICS[n % 5];
        const body = `${topic}#${n} ${"✓".repeat(n)}`;
        const binary = n % 3 === 0;
        const count = server.publish(topic, binary ? encoder.encode(body) : body);
        const line = `${binary ? "binary" : "text"}:${body}`;
        if (topic === EVERYONE) {
          assert.equal(count, SUBSCRIBERS + 1);
          expectForAll(line);
          expectedByPublisher.push(line);
        } else {
          assert.equal(count, SUBSCRIBERS / 4);
          expected.get(topic)!.push(line);
        }
      }

      // Phase 2: a connection publishes (pipelined commands); it is not among the receivers.
      for (let n = 0; n < 20; n++) {
        const topic = n % 2 === 0 ? EVERYONE : TOPICS[n % 4];
        const body = `from-pub#${n}`;
        publisher.sendText(JSON.stringify({ op: "pub", topic, data: body, binary: n % 3 === 0 }));
        const line = `${n % 3 === 0 ? "binary" : "text"}:${body}`;
        if (topic === EVERYONE) expectForAll(line);
        else expected.get(topic)!.push(line);
        // Its ack: the count excludes the publisher itself.
        const result = topic === EVERYONE ? SUBSCRIBERS : SUBSCRIBERS / 4;
        expectedByPublisher.push(`text:${JSON.stringify({ ack: "pub", result })}`);
      }

      await publisher.waitUntil(
        () => publisher.frames.length === expectedByPublisher.length,
        STEP,
        "the publisher's acks",
      );

      // The end marker, from the server to everyone (the publisher included).
      assert.equal(server.publish(EVERYONE, "end"), SUBSCRIBERS + 1);
      expectForAll("text:end");
      expectedByPublisher.push("text:end");

      await waitUntil(
        () => subscribers.every((c) => isEnd(c.frames.at(-1))),
        2 * STEP,
        "every subscriber to receive the end marker",
      );
      for (const [i, client] of subscribers.entries()) {
        const got = client.frames.map(describeFrame);
        assert.deepEqual(got, expected.get(TOPICS[i % TOPICS.length]), `subscriber ${i}`);
        assert.ok(client.frames.every((f) => f.fin && !f.masked && f.rsv === 0));
      }

      // The publisher got what was published to EVERYONE before, its acks, and the end marker:
      // none of its own messages.
      await publisher.waitUntil(() => isEnd(publisher.frames.at(-1)), STEP, "the publisher's end");
      assert.deepEqual(publisher.frames.map(describeFrame), expectedByPublisher);
      assert.deepEqual(errors, []);
    },
  );
});

describe("a connection that publishes", () => {
  const opened: StreamClient[] = [];
  let stop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const client of opened) client.destroy();
    await stop?.();
  });

  test("does not receive its own message, even when subscribed", { timeout: STEP }, async () => {
    const { server } = startPubSubServer();
    stop = () => server.stop();
    const a = await StreamClient.open(server.port, { path: "/?id=a&topics=room" });
    const b = await StreamClient.open(server.port, { path: "/?id=b&topics=room" });
    opened.push(a, b);

    a.sendText(JSON.stringify({ op: "pub", topic: "room", data: "hello from a" }));
    await a.waitUntil(() => a.frames.length === 1, STEP, "a's ack");
    assert.deepEqual(JSON.parse(a.texts[0]), { ack: "pub", result: 1 });
    await b.waitUntil(() => b.frames.length === 1, STEP, "b's copy");
    assert.deepEqual(b.texts, ["hello from a"]);

    // Anything a would have got is before this marker, which both get.
    assert.equal(server.publish("room", "marker"), 2);
    await a.waitUntil(() => a.frames.length === 2, STEP, "a's marker");
    await b.waitUntil(() => b.frames.length === 2, STEP, "b's marker");
    assert.deepEqual(a.texts, [a.texts[0], "marker"]);
    assert.deepEqual(b.texts, ["hello from a", "marker"]);
  });
});
