/**
 * The process's file-descriptor limit: an echo server in its own process may open 256 files
 * (`ulimit -n 256`); 150 clients connect, then 250 more at once, which cannot all fit. The ones
 * that fit must get their 101 and the rest be refused (reset or closed, or a 503), every one of
 * them within a bound, never left waiting. While the server is full and a new client arrives every
 * 20 ms (each refused as well), every client it holds still echoes and the server's CPU time over
 * 2 s stays below half a core: retrying a failed accept at once would spin at 100% (Bun's event
 * loop did so by itself). Once most clients have left, new ones connect and echo. The server says
 * so exactly once on stderr (nothing else), and is still running. For `ws://` and `wss://`.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import tls from "node:tls";
import { upgradeRequest } from "../helpers/raw_client.ts";
import { killChildren } from "../helpers/processes.ts";
import { RUNTIME } from "../helpers/servers.ts";
import { skipSuite } from "../helpers/skip.ts";
import { sleep, waitUntil } from "../helpers/timing.ts";
import { TLS_CA, TLS_CERT, TLS_KEY } from "../helpers/tls.ts";
import { clientFrame, OP, readFrame } from "../helpers/wire.ts";
import { descriptorsBackTo, settledOpenFiles, startServerProcess } from "./_processes.ts";

/**
 * `ulimit -n` of the server: room for about 230 connections on Deno (25 descriptors in use at
 * idle), 250 on Bun (6).
 */
const LIMIT = 256;
/** Clients connected first, one batch at a time: all fit. */
const KEPT = 150;
/** Clients that then arrive at once: about 80 fit, the rest must be refused. */
const EXCESS = 250;
/** While full, one more client this often, for {@link OVERLOAD_MS}; the CPU is measured meanwhile. */
const TRICKLE_MS = 20;
const OVERLOAD_MS = 2_000;
/**
 * Every client has its 101 or its refusal this soon after it connects: refusing is immediate (a
 * reset), and the longest wait either adapter may add before accepting again is 1 s.
 */
const SETTLE_MS = 3_000;
/** Of one core; a retry loop would take all of it. Not a speed limit: idle it is about 1%. */
const MAX_CPU_SHARE = 0.5;
/** Connections the server may leave unused below its limit (Bun's adapter keeps one free). */
const SLACK = 3;
/** Linux reports CPU time in /proc in ticks of 1/100 s (USER_HZ, fixed by the ABI). */
const TICKS_PER_SECOND = 100;
const WARNING = /^edgews: out of file descriptors on 127\.0\.0\.1:\d+: new connections are refused/;

/** A raw WebSocket client (TCP or TLS): the upgrade goes out at once; it records what comes back. */
class Client {
  readonly socket: net.Socket;
  readonly startedAt = Date.now();
  /** The status of the server's response head, once one has arrived. */
  status: number | null = null;
  /** When the server's answer (a head) or the end of the connection came. */
  settledAt: number | null = null;
  ended = false;
  /** The texts of the frames received after the 101. */
  readonly texts: string[] = [];
  readonly #wakers = new Set<() => void>();
  #buffer = new Uint8Array(0);

  constructor(port: number, secure: boolean) {
    const request = upgradeRequest(port);
    this.socket = secure
      ? tls.connect({ host: "127.0.0.1", port, ca: [TLS_CA] })
      : net.connect({ host: "127.0.0.1", port });
    this.socket.once(secure ? "secureConnect" : "connect", () => this.socket.write(request));
    this.socket.on("data", (chunk: Uint8Array) => this.#received(chunk));
    const end = () => {
      this.ended = true;
      this.settledAt ??= Date.now();
      this.#wake();
    };
    this.socket.on("error", end);
    this.socket.on("close", end);
    this.socket.on("end", end);
  }

  /** How it ended: its status (101, 503), "refused" (closed or reset unanswered), or "waiting". */
  get outcome(): string {
    if (this.status !== null) return String(this.status);
    return this.ended ? "refused" : "waiting";
  }

  get settled(): boolean {
    return this.settledAt !== null;
  }

  /** Sends `text` and waits for it to come back. */
  async echo(text: string, ms: number): Promise<void> {
    const before = this.texts.length;
    this.socket.write(clientFrame(OP.text, text));
    await waitUntil(
      () => this.texts.length > before || this.ended,
      ms,
      `the echo of ${text}`,
      this.#wakers,
    );
    assert.equal(this.texts[before], text, `${text} came back`);
  }

  /** Waits for the answer or the end; settles either way. */
  settle(ms: number): Promise<void> {
    return waitUntil(() => this.settled, ms, "an answer", this.#wakers).catch(() => {});
  }

  #received(chunk: Uint8Array): void {
    const buffer = new Uint8Array(this.#buffer.length + chunk.length);
    buffer.set(this.#buffer);
    buffer.set(chunk, this.#buffer.length);
    this.#buffer = buffer;
    if (this.status === null) {
      const head = new TextDecoder("latin1").decode(buffer).indexOf("\r\n\r\n");
      if (head === -1) return;
      this.status = Number(new TextDecoder().decode(buffer.subarray(0, head)).split(" ")[1]);
      this.settledAt ??= Date.now();
      this.#buffer = buffer.subarray(head + 4);
    }
    let next;
    while ((next = readFrame(this.#buffer)) !== null) {
      if (next.frame.opcode === OP.text) {
        this.texts.push(new TextDecoder().decode(next.frame.payload));
      }
      this.#buffer = this.#buffer.subarray(next.end);
    }
    this.#wake();
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}

/** Opens `count` clients `batch` at a time; each must get its 101. */
async function openClients(port: number, secure: boolean, count: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, () => new Client(port, secure));
    await Promise.all(batch.map((client) => client.settle(10_000)));
    for (const client of batch) {
      assert.equal(client.outcome, "101", "a client that fits was answered");
    }
    clients.push(...batch);
  }
  return clients;
}

/** How many of `clients` echo a message each (within 10 s). */
async function echoAll(clients: Client[], what: string): Promise<number> {
  const echoes = await Promise.allSettled(
    clients.map((client, i) => client.echo(`${what} ${i}`, 10_000)),
  );
  return echoes.filter((echo) => echo.status === "fulfilled").length;
}

/** The CPU time (user + system) a process has used, in seconds. */
function cpuSeconds(pid: number): number {
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Counts of each outcome. */
function tally(clients: Client[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const client of clients) counts[client.outcome] = (counts[client.outcome] ?? 0) + 1;
  return counts;
}

/** The longest any of `clients` took to settle (those that have not yet: until now). */
function slowest(clients: Client[]): number {
  return Math.max(...clients.map((c) => (c.settledAt ?? Date.now()) - c.startedAt));
}

describe("the file-descriptor limit", () => {
  if (process.platform !== "linux") {
    return skipSuite("needs Linux: the server's descriptors and CPU time are read from /proc");
  }
  after(() => killChildren());

  for (const secure of [false, true]) {
    const scheme = secure ? "wss" : "ws";
    test(
      `${scheme}://: ${KEPT} + ${EXCESS} clients at ulimit -n ${LIMIT}: the excess refused, the rest served`,
      {
        timeout: 60_000,
      },
      async () => {
        const all: Client[] = [];
        try {
          await overload(secure, all);
        } finally {
          for (const client of all) client.socket.destroy();
        }
      },
    );
  }
});

async function overload(secure: boolean, all: Client[]): Promise<void> {
  const scheme = secure ? "wss" : "ws";
  const server = await startServerProcess(
    secure ? { tls: { cert: TLS_CERT, key: TLS_KEY } } : {},
    50_000,
    LIMIT,
  );
  const pid = server.child.process.pid!;
  const idle = await settledOpenFiles(pid);
  const capacity = LIMIT - idle;

  const kept = await openClients(server.port, secure, KEPT);
  all.push(...kept);

  // More than fit, at once.
  const excess = Array.from({ length: EXCESS }, () => new Client(server.port, secure));
  all.push(...excess);
  await Promise.all(excess.map((client) => client.settle(SETTLE_MS + 1_000)));
  const excessOutcomes = tally(excess);
  const excessSlowest = slowest(excess);
  const admitted = excess.filter((client) => client.outcome === "101");
  const served = [...kept, ...admitted];

  // Full: every client held echoes, while new ones keep coming (and are refused).
  const trickle: Client[] = [];
  const cpuBefore = cpuSeconds(pid);
  const startedAt = Date.now();
  const arriving = (async () => {
    while (Date.now() - startedAt < OVERLOAD_MS) {
      trickle.push(new Client(server.port, secure));
      await sleep(TRICKLE_MS);
    }
  })();
  const echoesWhileFull = await echoAll(served, "while full");
  await arriving;
  const cpuShare = (cpuSeconds(pid) - cpuBefore) / ((Date.now() - startedAt) / 1000);
  all.push(...trickle);
  await Promise.all(trickle.map((client) => client.settle(SETTLE_MS + 1_000)));
  const trickleOutcomes = tally(trickle);
  const trickleSlowest = slowest(trickle);

  // Most leave; new clients get in.
  const staying = kept.slice(0, 10);
  for (const client of served.slice(10)) client.socket.destroy();
  const descriptorsAfter = await descriptorsBackTo(pid, idle + staying.length);
  const newcomers = Array.from({ length: 20 }, () => new Client(server.port, secure));
  all.push(...newcomers);
  await Promise.all(newcomers.map((client) => client.settle(10_000)));
  const newcomerOutcomes = tally(newcomers);
  const echoesAfter = await echoAll(
    [...staying, ...newcomers.filter((client) => client.outcome === "101")],
    "after",
  );

  // Everything is measured before anything is asserted, so that a failure shows the whole story.
  console.log(
    `${scheme}:// on ${RUNTIME} at ulimit -n ${LIMIT} (${idle} in use at idle): ` +
      JSON.stringify({
        excess: excessOutcomes,
        excessSlowestMs: excessSlowest,
        served: served.length,
        echoesWhileFull,
        trickle: trickleOutcomes,
        trickleSlowestMs: trickleSlowest,
        cpuWhileFull: `${Math.round(cpuShare * 100)}%`,
        descriptorsAfter,
        newcomers: newcomerOutcomes,
        echoesAfter,
      }),
  );

  // (b) Those that fit were admitted, the rest refused, each at once.
  for (const outcome of Object.keys(excessOutcomes)) {
    assert.ok(["101", "503", "refused"].includes(outcome), `an excess client ended ${outcome}`);
  }
  assert.ok(served.length <= capacity, `${served.length} served, with room for ${capacity}`);
  assert.ok(
    served.length >= capacity - SLACK,
    `only ${served.length} served, with room for ${capacity}: it refused too early`,
  );
  assert.ok(excessSlowest <= SETTLE_MS, `an excess client waited ${excessSlowest} ms`);
  // (a) and (c): served while full, without spinning.
  assert.equal(
    echoesWhileFull,
    served.length,
    "every client held echoed while the server was full",
  );
  assert.ok(
    cpuShare < MAX_CPU_SHARE,
    `the server used ${Math.round(cpuShare * 100)}% of a core while full: a busy loop`,
  );
  assert.ok(trickle.length >= OVERLOAD_MS / TRICKLE_MS / 2, `${trickle.length} arrivals`);
  for (const outcome of Object.keys(trickleOutcomes)) {
    assert.ok(["503", "refused"].includes(outcome), `a client arriving while full: ${outcome}`);
  }
  assert.ok(
    trickleSlowest <= SETTLE_MS,
    `a client arriving while full waited ${trickleSlowest} ms`,
  );
  // (d) It recovered: the descriptors came back, newcomers got in, and everyone echoes.
  assert.ok(
    descriptorsAfter <= idle + staying.length + SLACK,
    `${descriptorsAfter} descriptors open after all but ${staying.length} clients left`,
  );
  assert.deepEqual(newcomerOutcomes, { "101": newcomers.length }, "newcomers after the overload");
  assert.equal(echoesAfter, staying.length + newcomers.length, "echoes after the overload");
  // (e) It said so once, and nothing else.
  const stderr = server.child.stderr().trim().split("\n");
  assert.equal(stderr.length, 1, `stderr says one thing:\n${server.child.stderr()}`);
  assert.match(stderr[0], WARNING);
  assert.equal(server.child.done, false, "the server is still running");
  server.child.kill();
}
