/**
 * Our client against five servers: edgews in this process, edgews on the other runtime, Bun's
 * native server, Deno's native server and `ws` on Node (the last four in child processes). The
 * same scenarios run against each: non-ASCII text, byte-exact binary, a 16 MiB message,
 * fragmented messages from the server (where the server can send them), pings both ways, close
 * codes both ways and subprotocol negotiation.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { killChildren } from "../helpers/processes.ts";
import { pseudoRandomBytes } from "../peers/scenarios.mjs";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { describeMessage, finish, fnv1a, type Probe, probe } from "./_probe.ts";
import { type RunningTarget, TARGETS } from "./_targets.ts";
import { skipName } from "../helpers/skip.ts";

const decoder = new TextDecoder();
const TEXT = "héllo wörld ✓ — 日本語 🚀 \u{10FFFF}";
const BIG = 16 * 1024 * 1024;

after(() => killChildren());

for (const target of TARGETS) {
  describe(`client → ${target.name}`, () => {
    let server: RunningTarget | undefined;
    let p: Probe | undefined;

    before(async () => {
      server = await target.start();
    });
    after(async () => {
      await server?.stop();
    });

    const open = async (protocols?: string[]) => {
      await finish(p);
      p = await probe(server!.url, { protocols });
      return p;
    };
    after(() => finish(p));

    test("non-ASCII text comes back as the same string", async () => {
      const { ws, messages } = await open();
      assert.equal(ws.send(TEXT), "sent");
      assert.equal(await messages.next("echo"), TEXT);
    });

    test("binary comes back byte-exact as a Uint8Array", async () => {
      const { ws, messages } = await open();
      const data = new Uint8Array(300);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 255) & 255;
      ws.send(data);
      const echo = await messages.next("echo");
      assert.ok(echo instanceof Uint8Array, `got ${describeMessage(echo)}`);
      assert.deepEqual(Array.from(echo), Array.from(data));
      ws.send(new Uint8Array(0));
      const empty = await messages.next("empty echo");
      assert.ok(empty instanceof Uint8Array && empty.length === 0, describeMessage(empty));
    });

    test("a 16 MiB binary message comes back whole (length and checksum)", async () => {
      const { ws, messages } = await open();
      const data = pseudoRandomBytes(BIG, 0x9e3779b9) as Uint8Array;
      ws.send(data);
      const echo = await messages.next("16 MiB echo", 60_000);
      assert.ok(echo instanceof Uint8Array, `got ${describeMessage(echo)}`);
      assert.equal(echo.length, BIG);
      assert.equal(fnv1a(echo), fnv1a(data));
    });

    const noFragments = !target.fragments && "this server has no API to send fragments";
    test(
      skipName("fragmented messages from the server arrive as one message each", noFragments),
      { skip: noFragments },
      async () => {
        const { ws, messages } = await open();
        ws.send("cmd:frag");
        assert.equal(await messages.next("fragmented text"), "Ünïcödé ✓ fragments");
        ws.send("cmd:frag-binary");
        const binary = await messages.next("fragmented binary");
        assert.ok(binary instanceof Uint8Array, describeMessage(binary));
        assert.deepEqual(Array.from(binary), [0, 1, 2, 253, 254, 255]);
      },
    );

    test("our ping is answered with a pong carrying its payload", async () => {
      const { ws, pongs, messages } = await open();
      assert.equal(ws.ping("are you there? ✓"), "sent");
      assert.equal(decoder.decode(await pongs.next("pong")), "are you there? ✓");
      ws.send("after ping"); // the connection is still fine
      assert.equal(await messages.next("echo"), "after ping");
    });

    const noPing = !target.serverPing && "this server cannot send pings";
    test(
      skipName("the server's ping is answered automatically (seen by the server)", noPing),
      { skip: noPing },
      async () => {
        const { ws, pings, messages } = await open();
        ws.send("cmd:ping");
        assert.equal(decoder.decode(await pings.next("ping")), "srv-ping");
        assert.equal(await messages.next("pong report"), "pong-seen:srv-ping");
        await server!.waitForEvent((e) => e.event === "pong" && e.payload === "srv-ping");
      },
    );

    test("close(4000, 'bye') reaches the server as 4000 / 'bye'", async () => {
      const { ws, closes } = await open();
      ws.close(4000, "bye");
      // `closed` reports the server's answering close frame: the code echoed; the reason is
      // whatever that server puts in its answer (edgews echoes the code only, others the reason).
      const info = await within(ws.closed, WAIT_MS, "closed");
      assert.equal(info.code, 4000);
      assert.equal(info.wasClean, true);
      const event = await server!.waitForEvent((e) => e.event === "close" && e.code === 4000);
      assert.equal(event.reason, "bye");
      assert.deepEqual(closes, [{ code: 4000, reason: info.reason }]);
    });

    test("the server's close(4001) reaches `closed` and the close handler", async () => {
      const { ws, closes } = await open();
      ws.send("cmd:close");
      const info = await within(ws.closed, WAIT_MS, "closed");
      assert.deepEqual(info, { code: 4001, reason: "server bye", wasClean: true });
      assert.deepEqual(closes, [{ code: 4001, reason: "server bye" }]);
      assert.equal(ws.readyState, 3);
    });

    test("a subprotocol offered and chosen", async () => {
      const { ws } = await open(["superchat", "chat"]);
      assert.equal(ws.protocol, "chat");
      await server!.waitForEvent((e) => e.event === "open" && e.protocol === "chat");
      const plain = await open(["superchat"]);
      // Bun.serve answers with the client's first offer when the application chooses none.
      assert.equal(plain.ws.protocol, target.echoesFirstProtocol ? "superchat" : "");
      const none = await open();
      assert.equal(none.ws.protocol, "");
    });
  });
}
