/**
 * Guards: `maxConnections` answers 503 to the next upgrade while the open connections keep
 * working, also when many upgrades arrive at once; `allowOrigins` answers 403 to a foreign `Origin` (cross-site WebSocket hijacking) and
 * accepts an allowed or missing one; a handler that throws or rejects, in `open`, `message` or
 * `close`, closes only its own connection with 1011, its error goes to the `error` callback, and
 * the server keeps serving.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { allowOrigins, type WebSocketServer } from "../../mod.ts";
import { RawClient, upgradeRequest } from "../helpers/raw_client.ts";
import { sleep } from "../helpers/timing.ts";
import { startServer } from "../helpers/servers.ts";
import { clientFrame, closeCodeOf, closePayload, OP, text } from "../helpers/wire.ts";

async function echoes(client: RawClient, message: string): Promise<void> {
  client.write(clientFrame(OP.text, message));
  const frame = await client.nextFrame();
  assert.equal(frame.opcode, OP.text);
  assert.equal(text(frame.payload), message);
}

async function upgradeStatus(port: number, headers: Record<string, string> = {}) {
  const client = await RawClient.connect(port);
  client.write(upgradeRequest(port, { headers }));
  const response = await client.readResponseHead();
  return { client, status: response.status };
}

describe("guards", () => {
  const servers: WebSocketServer<unknown>[] = [];
  const clients: RawClient[] = [];
  after(async () => {
    for (const client of clients) client.destroy();
    for (const server of servers) await server.stop();
  });

  test("maxConnections: the next upgrade gets 503, the others keep working", {
    timeout: 20_000,
  }, async () => {
    const server = startServer({ maxConnections: 3 });
    servers.push(server);
    const open = await Promise.all([1, 2, 3].map(() => RawClient.open(server.port)));
    clients.push(...open);
    const refused = await upgradeStatus(server.port);
    clients.push(refused.client);
    assert.equal(refused.status, 503);
    await refused.client.waitForEnd();
    for (const [i, client] of open.entries()) await echoes(client, `still ${i}`);
    assert.equal(server.connectionCount, 3);

    // One leaves (closing handshake), and there is room again.
    open[0].write(clientFrame(OP.close, closePayload(1000)));
    await open[0].readUntilClose();
    const deadline = Date.now() + 5_000;
    const count = () => server.connectionCount;
    while (count() !== 2 && Date.now() < deadline) await sleep(10);
    assert.equal(count(), 2);
    const again = await RawClient.open(server.port);
    clients.push(again);
    await echoes(again, "room again");
  });

  test("maxConnections holds when many upgrades arrive at once", { timeout: 20_000 }, async () => {
    const server = startServer({ maxConnections: 5 });
    servers.push(server);
    const results = await Promise.all(
      Array.from({ length: 40 }, () => upgradeStatus(server.port)),
    );
    clients.push(...results.map((r) => r.client));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 101).length, 5, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 503).length, 35);
    assert.equal(server.connectionCount, 5);
  });

  test("allowOrigins: 403 for a foreign Origin, 101 for an allowed or missing one", {
    timeout: 20_000,
  }, async () => {
    const check = allowOrigins(["https://chat.example.com", "http://localhost:8000"]);
    const server = startServer({ upgrade: (request) => check(request) });
    servers.push(server);
    const cases: Array<[Record<string, string>, number]> = [
      [{ Origin: "https://evil.example" }, 403],
      [{ Origin: "https://chat.example.com.evil.example" }, 403],
      [{ Origin: "http://chat.example.com" }, 403], // another scheme is another origin
      [{ Origin: "https://chat.example.com:8443" }, 403],
      [{ Origin: "null" }, 403],
      [{ Origin: "not a url" }, 403],
      [{ Origin: "https://chat.example.com" }, 101],
      [{ Origin: "https://CHAT.example.com:443" }, 101],
      [{ Origin: "http://localhost:8000" }, 101],
      [{}, 101],
    ];
    for (const [headers, expected] of cases) {
      const { client, status } = await upgradeStatus(server.port, headers);
      clients.push(client);
      assert.equal(status, expected, JSON.stringify(headers));
      if (status === 101) await echoes(client, "hello");
      else await client.waitForEnd();
    }

    const strict = allowOrigins(["https://chat.example.com"], { allowMissing: false });
    const strictServer = startServer({ upgrade: (request) => strict(request) });
    servers.push(strictServer);
    const missing = await upgradeStatus(strictServer.port);
    clients.push(missing.client);
    assert.equal(missing.status, 403);
  });

  for (const where of ["open", "message", "close"] as const) {
    for (const how of ["throws", "rejects"] as const) {
      const outcome = where === "close" ? "reported" : "1011 for that connection only";
      test(`a handler that ${how} in ${where}: ${outcome}, the server keeps serving`, {
        timeout: 20_000,
      }, async () => {
        const errors: unknown[] = [];
        const fail = (ws: { data: unknown }) => {
          const error = new Error(`boom in ${where}`);
          if ((ws.data as { victim?: boolean })?.victim !== true) return;
          if (how === "throws") throw error;
          return Promise.reject(error);
        };
        const server = startServer<{ victim: boolean }>({
          upgrade(request) {
            return { data: { victim: new URL(request.url).pathname === "/victim" } };
          },
          websocket: {
            open(ws) {
              if (where === "open") return fail(ws);
            },
            message(ws, message) {
              if (where === "message" && message === "boom") return fail(ws);
              ws.send(message);
            },
            close(ws) {
              if (where === "close") return fail(ws);
            },
            error(_ws, error) {
              errors.push(error);
            },
          },
        });
        servers.push(server);
        const bystander = await RawClient.open(server.port);
        const victim = await RawClient.open(server.port, { path: "/victim" });
        clients.push(bystander, victim);

        if (where === "open") {
          const frames = await victim.readUntilClose();
          assert.equal(closeCodeOf(frames[frames.length - 1]), 1011);
        } else if (where === "message") {
          await echoes(victim, "fine");
          victim.write(clientFrame(OP.text, "boom"));
          const frames = await victim.readUntilClose();
          assert.deepEqual(frames.map((f) => f.opcode), [OP.close], "no echo of boom");
          assert.equal(closeCodeOf(frames[0]), 1011);
        } else {
          // The connection is closed already when close runs: only the error callback sees it.
          victim.write(clientFrame(OP.close, closePayload(1000)));
          const frames = await victim.readUntilClose();
          assert.equal(closeCodeOf(frames[0]), 1000);
        }
        const deadline = Date.now() + 5_000;
        while (errors.length === 0 && Date.now() < deadline) await sleep(10);
        assert.equal(errors.length, 1);
        assert.equal((errors[0] as Error).message, `boom in ${where}`);

        await echoes(bystander, "unaffected");
        const newcomer = await RawClient.open(server.port);
        clients.push(newcomer);
        await echoes(newcomer, "welcome");
        assert.equal(server.connectionCount, 2);
      });
    }
  }
});
