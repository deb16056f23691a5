/** The pull-style API's queue: full at its capacity, room when read, the end after the rest. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageQueue } from "../../src/connection/message_queue.ts";

test("full at capacity; room() resolves when the reader wants more", async () => {
  const queue = new MessageQueue(2);
  queue.push("a");
  assert.equal(queue.isFull, false);
  queue.push(Uint8Array.of(1));
  assert.equal(queue.isFull, true);
  let room = false;
  queue.room().then(() => room = true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(room, false, "no room while nobody reads");
  const reader = queue.readable.getReader();
  assert.equal(queue.isRead, true);
  assert.deepEqual(await reader.read(), { value: "a", done: false });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(room, true);
  assert.equal(queue.isFull, false);
});

test("close: the reader gets what is queued, then the end; a waiting writer is woken", async () => {
  const queue = new MessageQueue(1);
  queue.push("x");
  const room = queue.room();
  queue.close();
  await room;
  queue.push("ignored after close");
  const reader = queue.readable.getReader();
  assert.deepEqual(await reader.read(), { value: "x", done: false });
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
  assert.equal(queue.isFull, false);
});

test("a reader that cancels: later messages are dropped, never thrown", async () => {
  const queue = new MessageQueue(1);
  queue.push("x");
  const room = queue.room();
  await queue.readable.cancel();
  await room;
  assert.doesNotThrow(() => queue.push("y"));
  assert.equal(queue.isFull, false);
});
