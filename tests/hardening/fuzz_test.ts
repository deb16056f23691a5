/**
 * Fuzzing the sans-I/O core: the Receiver (server and client role) and the request-head
 * functions (findHeadEnd, parseRequestHead, readHead) get random, valid and mutated inputs
 * (bits flipped, bytes replaced, cut short, ranges repeated or deleted, streams spliced), cut
 * into random chunks. Nothing may throw out of them, and every outcome must match a slow,
 * independent reference model (tests/hardening/_reference.ts): the same messages, then at most
 * one close or error, with 1002/1007/1009 for errors and a wire-valid code for a close.
 *
 * Each input is rebuilt from the run's seed and its iteration number, both printed on failure:
 *   FUZZ_SEED=<seed> FUZZ_ITERATION=<n> deno test -A tests/hardening/fuzz_test.ts
 * FUZZ_MS sets the time budget of each fuzz loop (default 4000 ms; a cap on iterations applies too).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Receiver } from "../../src/protocol/receiver.ts";
import {
  findHeadEnd,
  isPlausibleRequestStart,
  parseRequestHead,
} from "../../src/handshake/http_head.ts";
import { readHead } from "../../src/connection/read_head.ts";
import { concat, latin1 } from "../helpers/bytes.ts";
import { fuzzSeed, hexPreview, randomChunks, Rng } from "./_prng.ts";
import {
  describeEvents,
  referenceHeadEnd,
  referenceParseHead,
  referenceReceive,
  sameEvents,
  wireCloseCode,
  type WsEvent,
  type WsLimits,
} from "./_reference.ts";
import { headNoise, mutate, randomFrames, validRequestHead, validStream } from "./_generators.ts";

const SEED = fuzzSeed(process.env.FUZZ_SEED);
const ONLY = process.env.FUZZ_ITERATION === undefined || process.env.FUZZ_ITERATION === ""
  ? null
  : Number(process.env.FUZZ_ITERATION);
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 4000);
/** Iterations per loop at most, whatever the time budget. */
const CAP = 500_000;
console.log(
  `fuzz seed ${SEED} (repeat with FUZZ_SEED=${SEED}; budget ${BUDGET_MS} ms per loop)`,
);

/**
 * Runs `body(rng, i)` for iterations 0, 1, 2, … until the budget or the cap, or only for
 * FUZZ_ITERATION. Returns how many ran. A failure names the seed and the iteration.
 */
function fuzzLoop(name: string, body: (rng: Rng, i: number) => number | void): number {
  let inputs = 0;
  const run = (i: number) => {
    try {
      inputs += body(new Rng(SEED, i), i) ?? 1;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${name}: FUZZ_SEED=${SEED} FUZZ_ITERATION=${i} failed:\n${message}`,
        { cause: error },
      );
    }
  };
  if (ONLY !== null) {
    run(ONLY);
    return inputs;
  }
  const deadline = Date.now() + BUDGET_MS;
  let i = 0;
  while (i < CAP) {
    // Check the clock every 256 inputs: most inputs take microseconds.
    if ((i & 63) === 0 && Date.now() > deadline) break;
    run(i++);
  }
  console.log(`${name}: ${inputs.toLocaleString("en-US")} inputs (${i} iterations)`);
  return inputs;
}

const DEFAULT_LIMITS = { maxPayload: 64 * 1024 * 1024, maxFrameSize: 64 * 1024 * 1024 };

function randomLimits(rng: Rng, expectMasked: boolean): WsLimits {
  if (rng.chance(0.6)) return { expectMasked, ...DEFAULT_LIMITS, maxFragments: 131_072 };
  const maxPayload = rng.pick([0, 1, 16, 125, 126, 1000, 65536]);
  return {
    expectMasked,
    maxPayload,
    maxFrameSize: rng.chance(0.5) ? maxPayload : rng.pick([0, 1, 20, 200]),
    maxFragments: rng.pick([1, 2, 3, 8]),
  };
}

/** Feeds the chunks to a Receiver; what it reported, and whether it threw. */
function receive(chunks: Uint8Array[], limits: WsLimits): WsEvent[] {
  const events: WsEvent[] = [];
  const receiver = new Receiver({
    onMessage: (data) => {
      if (typeof data === "string") events.push({ kind: "text", data });
      else if (data instanceof Uint8Array) events.push({ kind: "binary", data: data.slice() });
      else throw new Error(`message of an unexpected type: ${typeof data}`);
    },
    onPing: (data) => events.push({ kind: "ping", data: data.slice() }),
    onPong: (data) => events.push({ kind: "pong", data: data.slice() }),
    onClose: (code, reason) => events.push({ kind: "close", code, reason }),
    onProtocolError: ({ code }) => events.push({ kind: "error", code }),
  }, limits);
  for (const chunk of chunks) receiver.push(chunk);
  const last = events[events.length - 1];
  if (last !== undefined && (last.kind === "close" || last.kind === "error")) {
    // After a close or an error, input is discarded unread.
    const before = events.length;
    receiver.push(Uint8Array.of(0x81, 0x80, 1, 2, 3, 4, 0x81, 0x00));
    if (events.length !== before || !receiver.stopped) {
      throw new Error(`read on after ${describeEvents([last])}`);
    }
  }
  return events;
}

/** The outcome's shape, whatever the input: messages, then at most one valid close or error. */
function checkShape(events: WsEvent[]): void {
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.kind === "error") {
      if (e.code !== 1002 && e.code !== 1007 && e.code !== 1009) {
        throw new Error(`error code ${e.code}`);
      }
    } else if (e.kind === "close") {
      if (e.code !== 1005 && !wireCloseCode(e.code)) throw new Error(`close code ${e.code}`);
    } else continue;
    if (i !== events.length - 1) throw new Error("events after a close or an error");
  }
}

/** Inputs per batch: one valid stream, then mutations of it, each cut into chunks its own way. */
const BATCH = 32;

/** One batch: a valid stream (checked as is) and BATCH - 1 variants; returns how many inputs. */
function receiverBatch(rng: Rng, expectMasked: boolean): number {
  const limits = randomLimits(rng, expectMasked);
  const base = validStream(rng, expectMasked, rng.chance(0.003));
  // Spliced-in material: a piece of the stream itself (often whole frames), or random frames.
  const other = () => {
    if (rng.chance(0.5)) return randomFrames(rng, expectMasked);
    const from = rng.int(base.bytes.length + 1);
    return base.bytes.subarray(from, from + rng.int(base.bytes.length - from + 1));
  };
  for (let variant = 0; variant < BATCH; variant++) {
    let bytes: Uint8Array;
    let generated: WsEvent[] | null = null;
    if (variant === 0) {
      bytes = base.bytes;
      if (limits.maxFragments === 131_072) generated = base.events;
    } else if (variant < 24) {
      bytes = mutate(rng, base.bytes, other);
    } else if (variant < 28) {
      bytes = randomFrames(rng, expectMasked);
      if (rng.chance(0.5)) bytes = mutate(rng, bytes, () => randomFrames(rng, expectMasked));
    } else {
      bytes = rng.bytes(rng.int(48));
    }
    checkReceiver(rng, bytes, limits, generated, variant);
  }
  return BATCH;
}

function checkReceiver(
  rng: Rng,
  bytes: Uint8Array,
  limits: WsLimits,
  generated: WsEvent[] | null,
  variant: number,
): void {
  const chunks = randomChunks(rng, bytes);
  const expected = referenceReceive(bytes, limits);
  const context = () =>
    `variant ${variant}, role ${limits.expectMasked ? "server" : "client"}, limits ` +
    `${JSON.stringify(limits)}\ninput ${hexPreview(bytes)}\nchunks ${
      chunks.map((c) => c.length).join(",")
    }`;
  if (generated !== null && !sameEvents(generated, expected)) {
    throw new Error(
      `the reference disagrees with the generator (a bug in the test):\n` +
        `generated: ${describeEvents(generated)}\nreference: ${
          describeEvents(expected)
        }\n${context()}`,
    );
  }
  let got: WsEvent[];
  try {
    got = receive(chunks, limits);
  } catch (error) {
    throw new Error(`threw ${error}\n${context()}`);
  }
  try {
    checkShape(got);
  } catch (error) {
    throw new Error(`${error}: ${describeEvents(got)}\n${context()}`);
  }
  if (!sameEvents(got, expected)) {
    throw new Error(
      `receiver: ${describeEvents(got)}\nexpected: ${describeEvents(expected)}\n${context()}`,
    );
  }
}

/** Short inputs: one or two random headers with a few payload bytes, both roles. */
function shortBatch(rng: Rng): number {
  for (let variant = 0; variant < BATCH; variant++) {
    const expectMasked = rng.chance(0.5);
    const limits: WsLimits = rng.chance(0.5)
      ? { expectMasked, ...DEFAULT_LIMITS, maxFragments: 131_072 }
      : {
        expectMasked,
        maxPayload: rng.int(8),
        maxFrameSize: rng.int(8),
        maxFragments: rng.int(3),
      };
    const bytes = rng.bytes(rng.range(2, 24));
    for (let at = 0; at < bytes.length - 1; at += rng.range(2, 12)) {
      // Header-like bytes: a known opcode, the expected mask bit, a short length, mostly.
      if (rng.chance(0.7)) bytes[at] = (bytes[at] & 0xf0) | rng.pick([0, 1, 2, 8, 9, 10]);
      if (rng.chance(0.7)) bytes[at] &= 0x8f;
      if (rng.chance(0.8)) {
        bytes[at + 1] = (expectMasked ? 0x80 : 0) | (rng.chance(0.8) ? rng.int(8) : bytes[at + 1]);
      }
    }
    checkReceiver(rng, bytes, limits, null, variant);
  }
  return BATCH;
}

describe("fuzz: Receiver", () => {
  test("short inputs: random headers and payload bytes", { timeout: BUDGET_MS + 60_000 }, () => {
    assert.ok(fuzzLoop("receiver (short)", shortBatch) > 0);
  });

  for (const role of ["server", "client"] as const) {
    test(`${role} role: random, valid and mutated streams in random chunks`, {
      timeout: BUDGET_MS + 60_000,
    }, () => {
      const count = fuzzLoop(`receiver (${role})`, (rng) => receiverBatch(rng, role === "server"));
      assert.ok(count > 0);
    });
  }
});

// ------------------------------------------------------------------------------ HTTP

/** parseRequestHead on a head ending with the blank line, compared with the reference. */
function checkHead(head: Uint8Array, maxHeaders: number): void {
  const where = () => `head ${JSON.stringify(latin1(head))}, maxHeaders ${maxHeaders}`;
  let got;
  try {
    got = parseRequestHead(head, maxHeaders);
  } catch (error) {
    throw new Error(`parseRequestHead threw ${error}: ${where()}`);
  }
  const expected = referenceParseHead(head, maxHeaders);
  if ("status" in expected || "status" in got) {
    const a = "status" in got ? got.status : "a head";
    const b = "status" in expected ? expected.status : "a head";
    if (a !== b) throw new Error(`got ${a}, expected ${b}: ${where()}`);
    return;
  }
  if (
    got.method !== expected.method || got.target !== expected.target ||
    got.version !== expected.version
  ) {
    throw new Error(`request line read as ${got.method} ${got.target} ${got.version}: ${where()}`);
  }
  let names = 0;
  let previous = "";
  for (const [name] of got.headers.toHeaders()) {
    if (name === previous) continue; // Set-Cookie may come once per field
    previous = name;
    names++;
    if (!expected.headers.has(name)) throw new Error(`unexpected field ${name}: ${where()}`);
  }
  if (names !== expected.headers.size) throw new Error(`${names} fields: ${where()}`);
  for (const [name, values] of expected.headers) {
    const value = got.headers.get(name);
    if (value === values.join(", ")) continue;
    throw new Error(`${name}: ${JSON.stringify(value)}: ${where()}`);
  }
}

/** findHeadEnd as readHead uses it, chunk by chunk, from where the last search stopped. */
function incrementalHeadEnd(chunks: Uint8Array[]): number {
  let buffer = new Uint8Array(0);
  for (const chunk of chunks) {
    const from = buffer.length - 3;
    buffer = concat(buffer, chunk);
    const end = findHeadEnd(buffer, from);
    if (end !== -1) return end;
  }
  return -1;
}

/** One valid head, checked as is, then mutated and noisy variants; returns how many inputs. */
function httpBatch(rng: Rng): number {
  const valid = validRequestHead(rng);
  for (let variant = 0; variant < BATCH; variant++) {
    let bytes: Uint8Array;
    if (variant === 0) bytes = valid.bytes;
    else if (variant < 28) {
      bytes = mutate(rng, valid.bytes, () => headNoise(rng, rng.int(12)));
      // Mostly keep a blank line at the end, so the mutated head gets parsed.
      if (rng.chance(0.7) && findHeadEnd(bytes, 0) === -1) {
        bytes = concat(bytes, Uint8Array.from([13, 10, 13, 10]));
      }
    } else bytes = headNoise(rng, rng.int(80));

    // findHeadEnd: from any start, and chunk by chunk as readHead calls it.
    const from = rng.range(-5, bytes.length + 5);
    const end = referenceHeadEnd(bytes, 0);
    if (
      findHeadEnd(bytes, from) !== referenceHeadEnd(bytes, from) ||
      incrementalHeadEnd(randomChunks(rng, bytes)) !== end
    ) {
      throw new Error(`findHeadEnd disagrees (from ${from}) on ${JSON.stringify(latin1(bytes))}`);
    }

    if (variant === 0) {
      // Every prefix of a valid head is a plausible start: a slow client is never refused early.
      const cut = rng.int(bytes.length + 1);
      if (!isPlausibleRequestStart(bytes.subarray(0, cut))) {
        throw new Error(`prefix of ${cut} bytes refused: ${JSON.stringify(latin1(bytes))}`);
      }
      const head = parseRequestHead(bytes, 100);
      if ("status" in head || head.method !== valid.method || head.target !== valid.target) {
        throw new Error(`valid head misread: ${JSON.stringify(latin1(bytes))}`);
      }
    }
    if (end !== -1) checkHead(bytes.subarray(0, end), rng.chance(0.8) ? 100 : rng.int(12));
  }
  return BATCH;
}

/** A reader over fixed chunks, as readHead sees a socket. */
function chunkReader(chunks: Uint8Array[]): {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  delivered: () => number;
} {
  let index = 0;
  let delivered = 0;
  const reader = {
    read() {
      if (index >= chunks.length) return Promise.resolve({ value: undefined, done: true });
      const value = chunks[index++];
      delivered += value.length;
      return Promise.resolve({ value, done: false });
    },
  } as unknown as ReadableStreamDefaultReader<Uint8Array>;
  return { reader, delivered: () => delivered };
}

async function readHeadCase(rng: Rng): Promise<void> {
  const valid = validRequestHead(rng);
  let bytes = rng.chance(0.5) ? valid.bytes : mutate(rng, valid.bytes, () => headNoise(rng, 8));
  if (rng.chance(0.3)) {
    bytes = concat(bytes, rng.bytes(rng.int(40)));
  }
  const maxBytes = rng.chance(0.7) ? 16 * 1024 : rng.range(1, bytes.length + 10);
  const chunks = randomChunks(rng, bytes).filter((c) => c.length > 0);
  const { reader, delivered } = chunkReader(chunks);
  const notHttp = { status: 400, message: "not HTTP" };
  const result = await readHead(reader, maxBytes, isPlausibleRequestStart, notHttp);
  const end = referenceHeadEnd(bytes, 0);
  const where = `maxBytes ${maxBytes}, ${JSON.stringify(latin1(bytes))}`;
  if (result === null) {
    // The stream ended first: no head within the limit in what was sent.
    assert.equal(delivered(), bytes.length, where);
    assert.ok(end === -1 && bytes.length <= maxBytes, where);
    assert.ok(isPlausibleRequestStart(bytes), where);
  } else if ("status" in result) {
    if (result.status === 431) assert.ok(end === -1 || end > maxBytes, where);
    else {
      assert.equal(result, notHttp, where);
      assert.ok(!isPlausibleRequestStart(bytes.subarray(0, delivered())), where);
    }
  } else {
    assert.ok(end !== -1 && end <= maxBytes, where);
    assert.equal(latin1(result.head), latin1(bytes.subarray(0, end)), where);
    assert.equal(latin1(result.rest), latin1(bytes.subarray(end, delivered())), where);
  }
}

describe("fuzz: request heads", () => {
  test("findHeadEnd and parseRequestHead on valid, mutated and random heads", {
    timeout: BUDGET_MS + 60_000,
  }, () => {
    assert.ok(fuzzLoop("request heads", httpBatch) > 0);
  });

  test("readHead over random chunks", { timeout: 60_000 }, async () => {
    // Async per input, so a fixed count rather than the time budget.
    const count = ONLY === null ? 20_000 : 1;
    for (let i = ONLY ?? 0; i < (ONLY ?? 0) + count; i++) {
      try {
        await readHeadCase(new Rng(SEED, i));
      } catch (error) {
        throw new Error(`readHead: FUZZ_SEED=${SEED} FUZZ_ITERATION=${i} failed: ${error}`, {
          cause: error,
        });
      }
    }
  });
});
