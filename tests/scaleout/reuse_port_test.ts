/**
 * `reusePort`: three edgews servers in separate processes, on Deno, Bun and Node, listen on
 * the same 127.0.0.1 port (plain and TLS); the kernel spreads 40 connections over all three, each
 * server greets with `<runtime>:<pid>`; once one process stops, the others take every new
 * connection. Without `reusePort`, a second server on a taken port fails from `serve()`; on Deno
 * without `--unstable-net`, `reusePort` is a clear error, not a silent exit.
 *
 * Found on this machine (Linux, Deno 2.9.6, Bun 1.4.5): Deno's `reusePort` (on `Deno.listen` and
 * `Deno.listenTls`) is unstable; without `--unstable-net` Deno ends the process with exit code 70
 * and "Unstable API 'Deno.listen({ reusePort: true })'" instead of throwing. Bun.listen takes
 * `reusePort` (plain and with `tls`) without any flag, and so does Node 26's net.Server.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, serve } from "../../mod.ts";
import { BIN, type Child, freePort, killChildren, startChild } from "../helpers/processes.ts";
import { OTHER_RUNTIMES, RUNTIME, type Runtime } from "../helpers/servers.ts";
import { TLS_CA } from "../helpers/tls.ts";
import { closeClients, openClients } from "./_clients.ts";
import { within } from "../helpers/timing.ts";

const SCRIPT = "tests/scaleout/_reuse_port_server.ts";
/** Per step; a runtime starting cold is the slow part. */
const STEP = 30_000;
const CONNECTIONS = 40;

after(() => killChildren());

/** Starts the server script on `runtime` (Deno with --unstable-net) with PORT=`port` and `env`. */
function spawnServer(
  runtime: Runtime,
  port: number,
  env: Record<string, string>,
  deadlineMs: number,
): Child {
  const args = runtime === "deno"
    ? ["run", "-A", "--unstable-net", SCRIPT]
    : runtime === "bun"
    ? ["run", SCRIPT]
    : [SCRIPT];
  return startChild(BIN[runtime], args, { deadlineMs, env: { PORT: String(port), ...env } });
}

/** Starts the server script on `runtime` on `port` and waits until it listens. */
async function startServerProcess(
  runtime: Runtime,
  port: number,
  env: Record<string, string> = {},
): Promise<Child> {
  const child = spawnServer(runtime, port, env, 4 * STEP);
  await child.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}\\b`), STEP);
  return child;
}

/** Counts the greetings (`<runtime>:<pid>`) of `count` new connections to `port`. */
async function greetings(port: number, count: number): Promise<Map<string, number>> {
  const clients = await openClients(`ws://127.0.0.1:${port}/`, count, STEP);
  const counts = new Map<string, number>();
  try {
    for (const client of clients) {
      const hello = await client.next(STEP);
      counts.set(hello, (counts.get(hello) ?? 0) + 1);
    }
  } finally {
    await closeClients(clients, STEP);
  }
  return counts;
}

/** The same over wss://, with our client trusting the test CA. */
async function tlsGreetings(port: number, count: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () => connect(`wss://127.0.0.1:${port}/`, { tls: { caCerts: [TLS_CA] }, timeout: STEP }),
    ),
  );
  try {
    for (const ws of sockets) {
      const first = await within(ws[Symbol.asyncIterator]().next(), STEP, "a greeting over TLS");
      const hello = String(first.value);
      counts.set(hello, (counts.get(hello) ?? 0) + 1);
    }
  } finally {
    for (const ws of sockets) ws.close(1000);
    await within(Promise.all(sockets.map((ws) => ws.closed)), STEP, "the TLS clients to close");
  }
  return counts;
}

/** Waits for `child` to exit; rejects at once if it listens instead. */
function failure(child: Child, what: string): Promise<{ code: number | null }> {
  const listened = child.waitFor(/listening/, STEP).then(
    () => Promise.reject(new Error(`${what} listened instead of failing`)),
    () => new Promise<never>(() => {}), // exited (or timed out) without listening: not a verdict
  );
  return within(Promise.race([child.exited, listened]), STEP, `${what} to fail`);
}

const runtimeOf = (greeting: string) => greeting.split(":")[0];

/** Each runtime, once. */
const RUNTIMES: Runtime[] = ["bun", "deno", "node"];

describe("reusePort: a Deno, a Bun and a Node process on one port", () => {
  test("the kernel spreads connections over all three; the survivors serve alone", {
    timeout: 6 * STEP,
  }, async () => {
    const port = await freePort();
    const servers = {} as Record<Runtime, Child>;
    for (const runtime of RUNTIMES) {
      servers[runtime] = await startServerProcess(runtime, port, { REUSE_PORT: "1" });
    }

    // Three sockets: that one of them gets none of 40 connections is a chance of 3 × (2/3)^40.
    const counts = await greetings(port, CONNECTIONS);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, CONNECTIONS);
    const byRuntime = new Set([...counts.keys()].map(runtimeOf));
    assert.deepEqual([...byRuntime].sort(), RUNTIMES, JSON.stringify([...counts]));
    for (const runtime of RUNTIMES) {
      assert.ok([...counts.keys()].includes(`${runtime}:${servers[runtime].process.pid}`));
    }

    // Stop the one of the test's runtime (so each runner checks a different one).
    const stopped = servers[RUNTIME];
    stopped.signal("SIGTERM");
    assert.deepEqual(await within(stopped.exited, STEP, "the stopped server to exit"), {
      code: 0,
      signal: null,
    }, stopped.stderr());

    const after = await greetings(port, CONNECTIONS / 2);
    const survivors = OTHER_RUNTIMES.map((runtime) => `${runtime}:${servers[runtime].process.pid}`);
    assert.ok(
      [...after.keys()].every((greeting) => survivors.includes(greeting)),
      JSON.stringify([...after]),
    );
    assert.equal([...after.values()].reduce((a, b) => a + b, 0), CONNECTIONS / 2);

    for (const runtime of OTHER_RUNTIMES) {
      servers[runtime].signal("SIGTERM");
      assert.equal((await within(servers[runtime].exited, STEP, "a survivor to exit")).code, 0);
    }
  });

  test("over TLS too", { timeout: 6 * STEP }, async () => {
    const port = await freePort();
    const env = { REUSE_PORT: "1", TLS: "1" };
    const children: Child[] = [];
    for (const runtime of RUNTIMES) children.push(await startServerProcess(runtime, port, env));
    const counts = await tlsGreetings(port, CONNECTIONS);
    assert.deepEqual(
      [...new Set([...counts.keys()].map(runtimeOf))].sort(),
      RUNTIMES,
      JSON.stringify([...counts]),
    );
    for (const child of children) child.signal("SIGTERM");
    for (const child of children) {
      assert.equal((await within(child.exited, STEP, "a TLS server to exit")).code, 0);
    }
  });
});

describe("without reusePort", () => {
  test("a second server on a taken port fails from serve()", () => {
    const first = serve({ hostname: "127.0.0.1", port: 0, websocket: {} });
    try {
      assert.throws(
        () => serve({ hostname: "127.0.0.1", port: first.port, websocket: {} }),
        (error: Error & { code?: string }) =>
          /in use/i.test(error.message) || error.code === "EADDRINUSE",
      );
    } finally {
      first.stop();
    }
  });

  test(
    "a reusePort server cannot join a port taken without it",
    { timeout: 3 * STEP },
    async () => {
      const port = await freePort();
      const holder = serve({ hostname: "127.0.0.1", port, websocket: {} });
      try {
        const child = spawnServer(OTHER_RUNTIMES[0], port, { REUSE_PORT: "1" }, 2 * STEP);
        const exit = await failure(child, "the second server");
        assert.notEqual(exit.code, 0);
        assert.match(child.stderr(), /in use|EADDRINUSE/i);
        assert.doesNotMatch(child.stdout(), /listening/);
      } finally {
        await holder.stop();
      }
    },
  );
});

test("Deno without --unstable-net: reusePort throws an Error naming the option and the flag", {
  timeout: 2 * STEP,
}, async () => {
  const port = await freePort();
  const child = startChild(BIN.deno, ["run", "-A", SCRIPT], {
    deadlineMs: 2 * STEP,
    env: { PORT: String(port), REUSE_PORT: "1" },
  });
  const exit = await failure(child, "the Deno server");
  // 1 is an uncaught error; Deno's own unstable check would have exited with 70, silently to
  // the caller of serve().
  assert.equal(exit.code, 1, child.stderr());
  assert.match(child.stderr(), /Error: reusePort needs Deno's --unstable-net flag/);
  assert.doesNotMatch(child.stdout(), /listening/);
});
