/**
 * What a message is, on every runtime: a string for text, and for binary a plain `Uint8Array`,
 * never a runtime's subclass (Bun's and Node's sockets hand over Buffers, and a large payload is
 * delivered as a view into the chunk it arrived in). Checked on the server and on the client, for
 * a small message, a 16 KiB one (delivered as a view into the read), a 1 MiB one (gathered across
 * reads into a buffer of its own) and a fragmented one (assembled).
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type WebSocketServer } from "../../mod.ts";
import { RawClient } from "../helpers/raw_client.ts";
import { RUNTIME, startServer } from "../helpers/servers.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { clientFrame, OP } from "../helpers/wire.ts";

/** "Uint8Array" when `value` is exactly that, else what it is. */
function kind(value: unknown): string {
  if (typeof value === "string") return "string";
  return Object.getPrototypeOf(value)?.constructor?.name ?? typeof value;
}

describe(`messages are strings or plain Uint8Arrays (${RUNTIME})`, () => {
  const received: unknown[] = [];
  let server: WebSocketServer | undefined;
  after(() => server?.stop());

  test("on the server: small, large and fragmented", async () => {
    server = startServer({
      websocket: {
        message(ws, message) {
          received.push(message);
          ws.send(message);
        },
      },
    });
    const client = await RawClient.open(server.port);
    const large = new Uint8Array(16 * 1024).fill(7);
    const huge = new Uint8Array(1024 * 1024).fill(8);
    client.write(clientFrame(OP.binary, new Uint8Array([1, 2, 3])));
    client.write(clientFrame(OP.binary, large));
    client.write(clientFrame(OP.binary, huge));
    client.write(clientFrame(OP.binary, new Uint8Array([4]), { fin: false }));
    client.write(clientFrame(OP.cont, new Uint8Array([5])));
    client.write(clientFrame(OP.text, "text"));
    for (let i = 0; i < 5; i++) await client.nextFrame(WAIT_MS);
    client.destroy();
    assert.deepEqual(received.map(kind), [
      "Uint8Array",
      "Uint8Array",
      "Uint8Array",
      "Uint8Array",
      "string",
    ]);
    assert.equal((received[1] as Uint8Array).length, large.length);
    assert.deepEqual(received[2], huge);
  });

  test("on the client: the same", async () => {
    const ws = await connect(`ws://127.0.0.1:${server!.port}/`);
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(new Uint8Array(16 * 1024).fill(9));
    ws.send(new Uint8Array(1024 * 1024).fill(10));
    ws.send("text");
    const kinds: string[] = [];
    const reading = (async () => {
      for await (const message of ws) {
        kinds.push(kind(message));
        if (kinds.length === 4) break;
      }
    })();
    await within(reading, WAIT_MS, "four echoes");
    ws.close();
    assert.deepEqual(kinds, ["Uint8Array", "Uint8Array", "Uint8Array", "string"]);
  });
});
