/**
 * The chat and echo examples in a real browser: Debian's headless Chromium, driven by
 * playwright-core from a Node child process (`driver.mjs`), against the examples running as
 * processes on the test's runtime (Deno under `deno test`, Bun under `bun test`).
 *
 * Scenarios: two pages join and see each other in the connected list; a message typed in one
 * shows in both with the sender's uid; `<img src=x onerror=alert(1)>` shows as text (no img
 * element, no dialog), also through the history a third page gets; a page whose socket drops
 * reconnects with a new uid and the same history; closing a page updates the other's list; the
 * echo page round-trips a message. A screenshot of the chat goes to tests/artifacts/.
 *
 * Without /usr/bin/chromium the test fails when CI=true and is skipped (saying why) otherwise.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { BIN, killChildren, ROOT, startChild, startExample } from "../helpers/example_process.ts";
import { RUNTIME } from "../helpers/servers.ts";

/** Debian's Chromium; EDGEWS_CHROMIUM overrides it (to check what happens when it is missing). */
const CHROMIUM = process.env.EDGEWS_CHROMIUM ?? "/usr/bin/chromium";
const XSS = "<img src=x onerror=alert(1)>";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The driver's own deadline; the test's is above it, so the driver can report first. */
const DRIVER_DEADLINE = 100_000;

interface Shown {
  uid: string;
  text: string;
}

interface DriverResult {
  error?: string;
  current?: string;
  steps: string[];
  dialogs: unknown[];
  consoleErrors: string[];
  browserVersion: string | null;
  uidA: string;
  uidB: string;
  uidC: string;
  uidAReconnected: string;
  usersAfterJoin: { a: string[]; b: string[] };
  afterHello: { a: Shown[]; b: Shown[] };
  imgCounts: Record<string, number>;
  afterMarkup: { a: Shown[]; c: Shown[] };
  screenshot: string;
  usersAfterReconnect: { a: string[]; b: string[] };
  messagesBeforeReconnect: Shown[];
  messagesAfterReconnect: Shown[];
  usersAfterClose: string[];
  countAfterClose: string;
  echo: Array<{ kind: string; text: string }>;
  echoImgCount: number;
}

/**
 * SIGKILLs every process whose command line names `userDataDir`: the browser, should the driver
 * have died without closing it. Only these processes, found by their unique profile directory.
 */
function killBrowser(userDataDir: string): void {
  if (process.platform !== "linux") return;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
    } catch {
      continue;
    }
    if (!cmdline.includes(userDataDir)) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

const sorted = (list: string[]) => [...list].sort();

describe("the examples in headless Chromium", () => {
  const available = existsSync(CHROMIUM);
  if (!available && process.env.CI !== "true") {
    const reason = `${CHROMIUM} not found: install Debian's chromium to run the browser tests ` +
      "(with CI=true this is a failure)";
    console.warn(`SKIPPED: ${reason}`); // Deno's runner does not print a skip reason
    test("chat and echo pages", { skip: reason }, () => {});
    return;
  }

  const userDataDirs: string[] = [];
  after(async () => {
    await killChildren();
    for (const dir of userDataDirs) {
      killBrowser(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(
    `chat and echo pages, servers on ${RUNTIME}`,
    { timeout: DRIVER_DEADLINE + 60_000 },
    async () => {
      assert.ok(available, `${CHROMIUM} is missing, and CI=true requires the browser tests to run`);
      const chat = await startExample("examples/chat/server.ts", DRIVER_DEADLINE + 40_000);
      const echo = await startExample("examples/echo.ts", DRIVER_DEADLINE + 40_000);
      const userDataDir = mkdtempSync(join(tmpdir(), "edgews-chromium-"));
      userDataDirs.push(userDataDir);
      mkdirSync(join(ROOT, "tests/artifacts"), { recursive: true });
      const screenshot = join(ROOT, `tests/artifacts/chat-${RUNTIME}.png`);
      rmSync(screenshot, { force: true });

      const driver = startChild(BIN.node, [
        "tests/browser/driver.mjs",
        JSON.stringify({
          chatUrl: `http://127.0.0.1:${chat.port}/`,
          echoUrl: `http://127.0.0.1:${echo.port}/`,
          executablePath: CHROMIUM,
          userDataDir,
          screenshot,
          deadlineMs: DRIVER_DEADLINE,
        }),
      ], DRIVER_DEADLINE + 20_000);
      const exit = await driver.exited;
      killBrowser(userDataDir);
      const line = driver.stdout().split("\n").find((l) => l.startsWith("RESULT "));
      const context = `driver exit ${JSON.stringify(exit)}\nstdout:\n${driver.stdout()}\n` +
        `stderr:\n${driver.stderr()}\nchat server stderr:\n${chat.child.stderr()}`;
      assert.ok(line !== undefined, `the driver printed no result; ${context}`);
      const r: DriverResult = JSON.parse(line.slice("RESULT ".length));
      assert.equal(r.error, undefined, `step "${r.current}" failed; ${context}`);
      assert.deepEqual(exit, { code: 0, signal: null }, context);
      console.log(`Chromium ${r.browserVersion}; steps: ${r.steps.join("; ")}`);

      // Two pages, two uids, each in both connected lists.
      assert.match(r.uidA, UUID);
      assert.match(r.uidB, UUID);
      assert.notEqual(r.uidA, r.uidB);
      assert.deepEqual(sorted(r.usersAfterJoin.a), sorted([r.uidA, r.uidB]));
      assert.deepEqual(sorted(r.usersAfterJoin.b), sorted([r.uidA, r.uidB]));

      // A message typed in a shows, once, in both, with a's uid.
      const hello = { uid: r.uidA, text: "hello from a" };
      assert.deepEqual(r.afterHello.a, [hello]);
      assert.deepEqual(r.afterHello.b, [hello]);

      // Markup is text: the exact characters are shown, no img element exists, no dialog fired.
      const markup = { uid: r.uidB, text: XSS };
      const after = { uid: r.uidA, text: "after the markup" };
      assert.deepEqual(r.afterMarkup.a, [hello, markup, after]);
      assert.deepEqual(r.afterMarkup.c, [hello, markup, after], "the third page, from history");
      assert.deepEqual(r.imgCounts, { a: 0, b: 0, c: 0 });
      assert.deepEqual(r.dialogs, []);

      // The screenshot is a PNG.
      const png = readFileSync(screenshot);
      assert.ok(png.length > 1000, `screenshot of ${png.length} bytes`);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

      // After its socket dropped, a reconnected with a new uid, got the same history, and both
      // lists show the new uid instead of the old.
      assert.match(r.uidAReconnected, UUID);
      assert.notEqual(r.uidAReconnected, r.uidA);
      assert.deepEqual(r.messagesAfterReconnect, r.messagesBeforeReconnect);
      assert.deepEqual(sorted(r.usersAfterReconnect.a), sorted([r.uidAReconnected, r.uidB]));
      assert.deepEqual(sorted(r.usersAfterReconnect.b), sorted([r.uidAReconnected, r.uidB]));

      // Closing b leaves a alone in its list.
      assert.deepEqual(r.usersAfterClose, [r.uidAReconnected]);
      assert.equal(r.countAfterClose, "1");

      // The echo page: what was sent came back, as text.
      assert.deepEqual(r.echo, [
        { kind: "received", text: `← echo ${XSS} ✓` },
        { kind: "sent", text: `→ echo ${XSS} ✓` },
      ]);
      assert.equal(r.echoImgCount, 0);

      // Both examples shut down gracefully on Ctrl-C.
      for (const { child } of [chat, echo]) {
        child.signal("SIGINT");
        assert.deepEqual(await child.exited, { code: 0, signal: null }, child.stderr());
      }
    },
  );
});
