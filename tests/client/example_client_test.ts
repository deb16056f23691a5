/**
 * examples/client.ts, run as a user would (`deno run --allow-net …`, `bun run …`, `node …`) in a child
 * process against a server in this process: lines on stdin go out, replies come back on stdout,
 * end of input closes with 1000, a server close ends the program, and a failed connection exits
 * with 1.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { WebSocketServer } from "../../mod.ts";
import { type Runtime, startServer } from "../helpers/servers.ts";
import { BIN, type Child, killChildren, startChild } from "../helpers/processes.ts";
import { WAIT_MS, within } from "../helpers/timing.ts";
import { CA_PATH, TLS_CERT, TLS_KEY } from "../helpers/tls.ts";

after(() => killChildren());

function runExample(runtime: Runtime, url: string, env: Record<string, string> = {}): Child {
  const args = runtime === "deno"
    ? ["run", "--allow-net", "examples/client.ts", url]
    : runtime === "bun"
    ? ["run", "examples/client.ts", url]
    : ["examples/client.ts", url];
  return startChild(BIN[runtime], args, { deadlineMs: 30_000, stdin: true, env });
}

for (const runtime of ["deno", "bun", "node"] as const) {
  describe(`examples/client.ts on ${runtime}`, () => {
    const closes: Array<{ code: number; reason: string }> = [];
    let echo: WebSocketServer | undefined;
    let greeter: WebSocketServer | undefined;
    let secure: WebSocketServer | undefined;
    before(() => {
      echo = startServer({
        websocket: {
          message: (ws, message) => void ws.send(message),
          close: (_ws, code, reason) => void closes.push({ code, reason }),
        },
      });
      // Greets with 4 bytes of binary; closes with 4001 when told "quit".
      greeter = startServer({
        websocket: {
          open: (ws) => void ws.send(Uint8Array.from([0xde, 0xad, 0xbe, 0xef])),
          message: (ws, message) => message === "quit" ? ws.close(4001, "as you wish") : undefined,
        },
      });
      secure = startServer({ tls: { cert: TLS_CERT, key: TLS_KEY } });
    });
    after(async () => {
      await Promise.all([echo?.stop(), greeter?.stop(), secure?.stop()]);
    });

    test("two lines out, two echoes back, end of input closes with 1000", async () => {
      const child = runExample(runtime, `ws://127.0.0.1:${echo!.port}/`);
      child.process.stdin!.write("héllo wörld\n");
      child.process.stdin!.end("second line ✓\n");
      const { code } = await child.exited;
      assert.deepEqual(child.lines(), ["< héllo wörld", "< second line ✓"], child.stderr());
      assert.match(child.stderr(), /closed: 1000/);
      assert.equal(code, 0, child.stderr());
      const close = await within(
        (async () => {
          while (closes.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
          return closes[closes.length - 1];
        })(),
        WAIT_MS,
        "the server to see the close",
      );
      assert.deepEqual(close, { code: 1000, reason: "end of input" });
    });

    test("binary is printed as hex; a server close ends the program", async () => {
      const child = runExample(runtime, `ws://127.0.0.1:${greeter!.port}/`);
      await child.waitForLine("< [binary");
      child.process.stdin!.write("quit\n"); // stdin stays open: the server's close must end it
      const { code } = await child.exited;
      assert.deepEqual(child.lines(), ["< [binary, 4 bytes] de ad be ef"]);
      assert.match(child.stderr(), /closed: 4001 as you wish/);
      assert.equal(code, 0, child.stderr());
    });

    test("wss:// with the test CA from NODE_EXTRA_CA_CERTS", async () => {
      const child = runExample(runtime, `wss://127.0.0.1:${secure!.port}/`, {
        NODE_EXTRA_CA_CERTS: CA_PATH,
      });
      child.process.stdin!.end("over tls\n");
      const { code } = await child.exited;
      assert.deepEqual(child.lines(), ["< over tls"], child.stderr());
      assert.equal(code, 0, child.stderr());
    });

    test("a refused upgrade exits with 1", async () => {
      const server = startServer({ upgrade: () => new Response("go away", { status: 403 }) });
      try {
        const refused = runExample(runtime, `ws://127.0.0.1:${server.port}/`);
        refused.process.stdin!.end();
        assert.equal((await refused.exited).code, 1);
        assert.match(refused.stderr(), /could not connect: .*403/);
      } finally {
        await server.stop();
      }
    });
  });
}
