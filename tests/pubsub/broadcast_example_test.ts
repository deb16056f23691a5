/**
 * examples/broadcast.ts as a user runs it (`deno run --allow-net --allow-env …` under
 * `deno test`, `bun run …` under `bun test`): every message a client sends reaches every other
 * client, text as text and binary as binary, in order, and never the sender; a client that leaves
 * stops receiving; Ctrl-C closes everyone with 1001 and exits 0. The clients are the runtime's own
 * WebSocket.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { killChildren, startExample } from "../helpers/processes.ts";
import { waitUntil } from "../helpers/timing.ts";

const STEP = 30_000;

interface Client {
  socket: WebSocket;
  received: string[];
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(port: number): Promise<Client> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.binaryType = "arraybuffer";
  const client: Client = {
    socket,
    received: [],
    closed: new Promise((resolve) => {
      socket.onclose = (event) => resolve({ code: event.code, reason: event.reason });
    }),
  };
  socket.onmessage = (event) => {
    client.received.push(
      typeof event.data === "string"
        ? `text:${event.data}`
        : `binary:${new TextDecoder().decode(event.data)}`,
    );
  };
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("WebSocket failed to open"));
  });
  return client;
}

describe("examples/broadcast.ts", () => {
  const sockets: WebSocket[] = [];
  after(async () => {
    for (const socket of sockets) socket.close();
    await killChildren();
  });

  test("relays to everyone else, then shuts down on SIGINT", { timeout: 4 * STEP }, async () => {
    const { child, port } = await startExample("examples/broadcast.ts", 3 * STEP);
    const [a, b, c] = [await connect(port), await connect(port), await connect(port)];
    sockets.push(a.socket, b.socket, c.socket);

    // Each sends in turn; each waits for the others to have it, so the order is known.
    const all = [a, b, c];
    const sent: Array<[Client, string]> = [];
    const expectedFor = (client: Client) =>
      sent.filter(([from]) => from !== client).map(([, line]) => line);
    const rounds: Array<[Client, string | Uint8Array]> = [
      [a, "from a ✓"],
      [b, new TextEncoder().encode("binary from b")],
      [c, "from c"],
      [a, "a again"],
    ];
    for (const [from, data] of rounds) {
      from.socket.send(data);
      sent.push([
        from,
        typeof data === "string" ? `text:${data}` : `binary:${new TextDecoder().decode(data)}`,
      ]);
      await waitUntil(
        () => all.every((client) => client.received.length === expectedFor(client).length),
        STEP,
        "everyone else to receive the message",
      );
    }
    for (const client of all) assert.deepEqual(client.received, expectedFor(client));

    // c leaves; a's next message reaches b only.
    c.socket.close(1000);
    await c.closed;
    const before = c.received.length;
    // b's reply tells a (and us) that the server has processed a's message before it.
    a.socket.send("after c left");
    await waitUntil(() => b.received.at(-1) === "text:after c left", STEP, "b to receive it");
    b.socket.send("ack");
    await waitUntil(() => a.received.at(-1) === "text:ack", STEP, "a to receive b's ack");
    assert.equal(c.received.length, before);

    // Ctrl-C: a graceful shutdown closes the others with 1001; the process exits with 0.
    child.signal("SIGINT");
    assert.deepEqual(await a.closed, { code: 1001, reason: "server shutting down" });
    assert.deepEqual(await b.closed, { code: 1001, reason: "server shutting down" });
    assert.deepEqual(await child.exited, { code: 0, signal: null }, child.stderr());
    assert.match(child.stdout(), /shutting down/);
  });
});
