/**
 * The chat and echo examples in a real browser: Debian's headless Chromium, driven by
 * playwright-core from a Node child process (`_driver.mjs`), against the examples running as
 * processes on the test's runtime (Deno under `deno test`, Bun under `bun test`).
 *
 * Scenarios: two pages join and see each other in the connected list; a message typed in one
 * shows in both with the sender's uid; `<img src=x onerror=alert(1)>` shows as text (no img
 * element, no dialog), also through the history a third page gets; a page whose socket drops
 * reconnects with a new uid and the same history; closing a page updates the other's list; the
 * echo page round-trips a message.
 *
 * Layout: after 50 messages the window (1280×720) does not scroll, the message list does; the
 * status, the text box and the member list are in view and so is the last message; a list the
 * user scrolled up stays put when a message arrives, and comes down when the user sends one. On
 * a phone (375×667, mobile rules, set through the DevTools protocol) the chat and echo pages are
 * laid out at its width (`<meta name="viewport">`), nothing scrolls sideways (a 200-character
 * word wraps), the messages are at least 300 px wide and the text box is in view. No page logs a
 * console error (a `/favicon.ico` not found would be one). Screenshots of the chat on the desktop
 * and on the phone go to tests/artifacts/. The chat page against a scripted socket (no server):
 * history above what arrived live, no message twice (by id), an older member list ignored,
 * `since` on reconnect.
 *
 * Across instances: a Deno and a Bun chat process with REDIS_URL on one redis-server, a page on
 * each: each sees the other's message and both users; a page away while the other spoke gets
 * that message when it reconnects, and nothing twice.
 *
 * Without /usr/bin/chromium the tests fail when CI=true and are skipped (saying why) otherwise;
 * without redis-server the one across instances is skipped, saying why.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  BIN,
  type Child,
  killChildren,
  ROOT,
  startChild,
  startExample,
} from "../helpers/processes.ts";
import { HAVE_REDIS, NO_REDIS_REASON, startRedis } from "../helpers/redis_server.ts";
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

interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
  width: number;
  height: number;
}

/** Where a page's parts were (see `layoutOf` in _driver.mjs). */
interface Layout {
  innerWidth: number;
  innerHeight: number;
  scrollWidth: number;
  scrollHeight: number;
  scrollY: number;
  inView: Record<string, boolean>;
  list: Box;
  listOverflowsSideways: boolean;
  last: Box | null;
  lastText: string | null;
  lastShown: boolean;
  listScrollTop: number;
  textBox: Box;
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
  desktop: { a: Layout; b: Layout };
  scrolledUp: { reading: Layout; afterSending: Layout };
  phone: Layout;
  phoneAfterSending: Layout;
  phoneScreenshot: string;
  echoPhone: Layout;
  usersAfterReconnect: { a: string[]; b: string[] };
  messagesBeforeReconnect: Shown[];
  messagesAfterReconnect: Shown[];
  usersAfterClose: string[];
  rateNotice: string[];
  fastRelayed: number;
  countAfterClose: string;
  echo: Array<{ kind: string; text: string }>;
  echoImgCount: number;
  rulesMessages: Shown[];
  rulesUsers: string[];
  rulesReconnectUrl: string;
  rulesMessagesAfterReconnect: Shown[];
}

interface InstancesResult {
  error?: string;
  current?: string;
  steps: string[];
  dialogs: unknown[];
  consoleErrors: string[];
  browserVersion: string | null;
  uidA: string;
  uidB: string;
  uidAReconnected: string;
  usersAfterJoin: { a: string[]; b: string[] };
  afterHello: { a: Shown[]; b: Shown[] };
  afterAway: { a: Shown[]; b: Shown[] };
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

/** The driver's many messages (see _driver.mjs): the last one, and the long word among them. */
const MANY = 50;
const LAST_OF_MANY = `message ${MANY} of ${MANY}`;

/** Every part of the chat page in view. */
const CHAT_IN_VIEW = { status: true, text: true, send: true, users: true };

/**
 * Checks that the chat page, at whatever size, does not scroll (the message list does), shows
 * the status, the text box, the button and the member list, and shows `lastText` as its last
 * message, fully.
 */
function assertChatUsable(layout: Layout, lastText: string, where: string): void {
  const details = `${where}: ${JSON.stringify(layout)}`;
  assert.ok(
    layout.scrollHeight <= layout.innerHeight && layout.scrollY === 0,
    `the window scrolls; ${details}`,
  );
  assert.ok(layout.scrollWidth <= layout.innerWidth, `wider than the window; ${details}`);
  assert.deepEqual(layout.inView, CHAT_IN_VIEW, `not all in view; ${details}`);
  assert.equal(layout.lastText, lastText, details);
  assert.ok(layout.lastShown, `the last message is not in view; ${details}`);
  assert.equal(layout.listOverflowsSideways, false, `a message does not wrap; ${details}`);
}

/** Checks that a phone (375×667) shows the page at its width: readable, nothing sideways. */
function assertPhoneWidth(layout: Layout, where: string): void {
  const details = `${where}: ${JSON.stringify(layout)}`;
  // 980 when the page has no <meta name="viewport">: laid out for a desktop, shown shrunk.
  assert.equal(
    layout.innerWidth,
    375,
    "not laid out at the phone's width (no <meta name=viewport>, or something wider than the " +
      `screen); ${details}`,
  );
  assert.equal(layout.innerHeight, 667, details);
  assert.ok(layout.scrollWidth <= layout.innerWidth, `scrolls sideways; ${details}`);
  assert.ok(layout.list.width >= 300, `the messages are too narrow to read; ${details}`);
  assert.equal(layout.listOverflowsSideways, false, `a message does not wrap; ${details}`);
}

/** The width and height of a PNG, from its header. */
function pngSize(png: Uint8Array): [number, number] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

/**
 * Runs the driver with `config` (plus the browser and profile); returns its parsed result once
 * it exited, after checking it reported no error. `context` is added to failure messages.
 */
async function runDriver<R extends { error?: string; current?: string }>(
  config: Record<string, unknown>,
  userDataDir: string,
  context: () => string,
): Promise<R> {
  const driver = startChild(BIN.node, [
    "tests/browser/_driver.mjs",
    JSON.stringify({
      ...config,
      executablePath: CHROMIUM,
      userDataDir,
      deadlineMs: DRIVER_DEADLINE,
    }),
  ], { deadlineMs: DRIVER_DEADLINE + 20_000 });
  const exit = await driver.exited;
  killBrowser(userDataDir);
  const line = driver.stdout().split("\n").find((l) => l.startsWith("RESULT "));
  const details = `driver exit ${JSON.stringify(exit)}\nstdout:\n${driver.stdout()}\n` +
    `stderr:\n${driver.stderr()}\n${context()}`;
  assert.ok(line !== undefined, `the driver printed no result; ${details}`);
  const r: R = JSON.parse(line.slice("RESULT ".length));
  assert.equal(r.error, undefined, `step "${r.current}" failed; ${details}`);
  assert.deepEqual(exit, { code: 0, signal: null }, details);
  return r;
}

describe("the examples in headless Chromium", () => {
  const available = existsSync(CHROMIUM);
  if (!available && process.env.CI !== "true") {
    const reason = `${CHROMIUM} not found: install Debian's chromium to run the browser tests ` +
      "(with CI=true this is a failure)";
    console.warn(`SKIPPED: ${reason}`); // Deno's runner does not print a skip reason
    test("chat and echo pages", { skip: reason }, () => {});
    test("the chat across two instances", { skip: reason }, () => {});
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
      const phoneScreenshot = join(ROOT, `tests/artifacts/chat-phone-${RUNTIME}.png`);
      rmSync(screenshot, { force: true });
      rmSync(phoneScreenshot, { force: true });

      const r = await runDriver<DriverResult>(
        {
          chatUrl: `http://127.0.0.1:${chat.port}/`,
          echoUrl: `http://127.0.0.1:${echo.port}/`,
          screenshot,
          phoneScreenshot,
        },
        userDataDir,
        () => `chat server stderr:\n${chat.child.stderr()}`,
      );
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

      // 50 messages later, in a desktop window (1280×720), both pages still show the status, the
      // text box and the member list: the window does not scroll, the message list does, and
      // shows the last message.
      assertChatUsable(r.desktop.a, LAST_OF_MANY, "after 50 messages, the sender");
      assertChatUsable(r.desktop.b, LAST_OF_MANY, "after 50 messages, the other page");
      // b scrolled up to read: a new message did not move its list (it is below, not shown);
      // what b sent itself brought it to the bottom again.
      const reading = r.scrolledUp.reading;
      assert.equal(reading.listScrollTop, 0, `moved the list: ${JSON.stringify(reading)}`);
      assert.equal(reading.lastText, "while b reads");
      assert.equal(reading.lastShown, false, JSON.stringify(reading));
      assertChatUsable(r.scrolledUp.afterSending, "b is back", "scrolled up, then sent");

      // On a phone: laid out at its width, the messages (one a 200-character word) across it,
      // the member list a line above them, everything in view; and typing there works.
      assertPhoneWidth(r.phone, "phone");
      assertChatUsable(r.phone, "b is back", "phone");
      assertPhoneWidth(r.phoneAfterSending, "phone, after sending");
      assertChatUsable(r.phoneAfterSending, "from the phone", "phone, after sending");
      // The echo page on a phone: at its width, its long word wrapped, the text box in view.
      assertPhoneWidth(r.echoPhone, "echo on a phone");
      assert.deepEqual(
        r.echoPhone.inView,
        { status: true, text: true, send: true },
        JSON.stringify(r.echoPhone),
      );

      // No page logged an error: no failed request (a /favicon.ico not found is one), no
      // exception.
      assert.deepEqual(r.consoleErrors, []);

      // The screenshots are PNGs: the desktop window, and the phone's screen at 2 pixels per px.
      const png = readFileSync(screenshot);
      assert.ok(png.length > 1000, `screenshot of ${png.length} bytes`);
      assert.deepEqual(pngSize(png), [1280, 720], "the page is as high as the window");
      assert.deepEqual(pngSize(readFileSync(phoneScreenshot)), [750, 1334]);

      // After its socket dropped, a reconnected with a new uid, got the same history, and both
      // lists show the new uid instead of the old.
      assert.match(r.uidAReconnected, UUID);
      assert.notEqual(r.uidAReconnected, r.uidA);
      assert.deepEqual(r.messagesAfterReconnect, r.messagesBeforeReconnect);
      assert.deepEqual(sorted(r.usersAfterReconnect.a), sorted([r.uidAReconnected, r.uidB]));
      assert.deepEqual(sorted(r.usersAfterReconnect.b), sorted([r.uidAReconnected, r.uidB]));

      // 40 messages at once from a page: the burst (20) and perhaps a few more reach the room, and
      // the page shows the server's notice, once.
      assert.ok(r.fastRelayed >= 20 && r.fastRelayed <= 25, `${r.fastRelayed} relayed`);
      assert.equal(r.rateNotice.length, 1, JSON.stringify(r.rateNotice));
      assert.match(r.rateNotice[0], /^server: you are sending too fast/);

      // Closing b leaves a alone in its list.
      assert.deepEqual(r.usersAfterClose, [r.uidAReconnected]);
      assert.equal(r.countAfterClose, "1");

      // The echo page: what was sent came back, as text.
      assert.deepEqual(r.echo, [
        { kind: "received", text: `← echo ${XSS} ✓` },
        { kind: "sent", text: `→ echo ${XSS} ✓` },
      ]);
      assert.equal(r.echoImgCount, 0);

      // The page against a scripted socket: the history went above the message that arrived
      // live before it, every id shows once, a message without an id shows; the older lists
      // were ignored. Reconnecting, it asked for what is after the newest id it showed, kept
      // what it showed, and took the new connection's list although its version is lower.
      const shown = (uid: string, text: string) => ({ uid, text });
      const rules = [
        shown("other", "older"),
        shown("me-1", "old"),
        shown("other", "live, then in the history"),
        shown("other", "live after the history"),
        shown("other", "not kept (no id)"),
      ];
      assert.deepEqual(r.rulesMessages, rules);
      assert.deepEqual(r.rulesUsers, ["me-1", "other", "third"]);
      assert.equal(new URL(r.rulesReconnectUrl).search, "?since=100-1");
      assert.deepEqual(r.rulesMessagesAfterReconnect, [...rules, shown("other", "while away")]);

      // Both examples shut down gracefully on Ctrl-C.
      for (const { child } of [chat, echo]) {
        child.signal("SIGINT");
        assert.deepEqual(await child.exited, { code: 0, signal: null }, child.stderr());
      }
    },
  );

  if (!HAVE_REDIS) console.warn(`SKIPPED (the chat across instances): ${NO_REDIS_REASON}`);
  test(
    `the chat across two instances (Deno and Bun, REDIS_URL), tests on ${RUNTIME}`,
    { timeout: DRIVER_DEADLINE + 60_000, skip: HAVE_REDIS ? false : NO_REDIS_REASON },
    async () => {
      assert.ok(available, `${CHROMIUM} is missing, and CI=true requires the browser tests to run`);
      const redis = await startRedis({ deadlineMs: DRIVER_DEADLINE + 50_000 });
      const instances: Child[] = [];
      const urls: string[] = [];
      for (const runtime of ["deno", "bun"] as const) {
        const { child, port } = await startExample(
          "examples/chat/server.ts",
          DRIVER_DEADLINE + 40_000,
          { runtime, env: { REDIS_URL: redis.url } },
        );
        instances.push(child);
        urls.push(`http://127.0.0.1:${port}/`);
      }
      const userDataDir = mkdtempSync(join(tmpdir(), "edgews-chromium-"));
      userDataDirs.push(userDataDir);

      const r = await runDriver<InstancesResult>(
        { scenario: "instances", chatUrls: urls },
        userDataDir,
        () =>
          instances.map((child, i) => `instance ${i + 1} stderr:\n${child.stderr()}`).join("\n"),
      );
      console.log(`Chromium ${r.browserVersion}; steps: ${r.steps.join("; ")}`);

      // Each page on its own instance, both users in both lists.
      assert.match(r.uidA, UUID);
      assert.match(r.uidB, UUID);
      assert.deepEqual(r.usersAfterJoin.a, [r.uidA, r.uidB]);
      assert.deepEqual(r.usersAfterJoin.b, [r.uidA, r.uidB]);

      // Each sees the other's message, once, in the order they were said.
      const fromA = { uid: r.uidA, text: "hello from the first instance" };
      const fromB = { uid: r.uidB, text: "hello from the second instance" };
      assert.deepEqual(r.afterHello.a, [fromA, fromB]);
      assert.deepEqual(r.afterHello.b, [fromA, fromB]);

      // a was away while b spoke: back (with a new uid), it shows what it missed, and nothing
      // twice.
      const away = { uid: r.uidB, text: "while a was away" };
      assert.notEqual(r.uidAReconnected, r.uidA);
      assert.deepEqual(r.afterAway.a, [fromA, fromB, away]);
      assert.deepEqual(r.afterAway.b, [fromA, fromB, away]);
      assert.deepEqual(r.dialogs, []);
      assert.deepEqual(r.consoleErrors, []);

      for (const child of instances) {
        child.signal("SIGTERM");
        assert.deepEqual(await child.exited, { code: 0, signal: null }, child.stderr());
      }
      await redis.stop();
    },
  );
});
