/**
 * Drives headless Chromium (Debian's, through playwright-core) against the chat and echo
 * examples, and prints what it saw as one JSON line (`RESULT {...}`) for the test to assert on.
 * Runs under Node, so the same test works under `deno test` and `bun test`:
 *
 *   node tests/browser/driver.mjs '{"chatUrl":…,"echoUrl":…,"userDataDir":…,"screenshot":…}'
 *
 * Every wait is for a condition in the page, with a timeout; the whole run has a deadline after
 * which the browser is closed and the driver exits with status 2. Exit status 1: a scenario step
 * failed (the error is in the result).
 */

import process from "node:process";
import { launchChromium } from "../helpers/chromium.mjs";

const config = JSON.parse(process.argv[2]);
const STEP = config.stepTimeoutMs ?? 15_000;
const XSS = "<img src=x onerror=alert(1)>";

const result = { steps: [], dialogs: [], consoleErrors: [] };
let context = null;

function emit(status) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exitCode = status;
}

async function finish(status) {
  clearTimeout(deadline);
  if (context !== null) await context.close().catch(() => {});
  emit(status);
}

const deadline = setTimeout(() => {
  result.error = `driver deadline of ${config.deadlineMs} ms passed`;
  finish(2).finally(() => process.exit(2));
}, config.deadlineMs ?? 90_000);

/** The chat page's messages as { uid, text }, in order. */
function messagesOf(page) {
  return page.$$eval(
    "#messages li.message",
    (items) =>
      items.map((li) => ({ uid: li.dataset.uid, text: li.querySelector(".text").textContent })),
  );
}

/** The uids in the chat page's "connected" list. */
function usersOf(page) {
  return page.$$eval("#users li", (items) => items.map((li) => li.dataset.uid));
}

/** Waits until the page shows a message from `uid` with exactly `text`. */
function waitForMessage(page, uid, text) {
  return page.waitForFunction(
    ([uid, text]) =>
      [...document.querySelectorAll("#messages li.message")].some((li) =>
        li.dataset.uid === uid && li.querySelector(".text").textContent === text
      ),
    [uid, text],
    { timeout: STEP },
  );
}

/** Waits until the page's connected list is exactly `uids` (in any order). */
function waitForUsers(page, uids) {
  return page.waitForFunction(
    (uids) => {
      const shown = [...document.querySelectorAll("#users li")].map((li) => li.dataset.uid).sort();
      return JSON.stringify(shown) === JSON.stringify([...uids].sort());
    },
    uids,
    { timeout: STEP },
  );
}

/** Opens the chat page; resolves with its uid once welcomed. */
async function openChat(name) {
  const page = await context.newPage();
  page.on("dialog", (dialog) => {
    result.dialogs.push({ page: name, type: dialog.type(), message: dialog.message() });
    dialog.dismiss().catch(() => {});
  });
  page.on("console", (message) => {
    if (message.type() === "error") result.consoleErrors.push(`${name}: ${message.text()}`);
  });
  await page.goto(config.chatUrl, { timeout: STEP });
  await page.waitForFunction(() => document.body.dataset.uid, null, { timeout: STEP });
  const uid = await page.evaluate(() => document.body.dataset.uid);
  return { page, uid };
}

async function say(page, text) {
  await page.fill("#text", text, { timeout: STEP });
  await page.press("#text", "Enter", { timeout: STEP });
}

async function step(name, run) {
  result.current = name;
  await run();
  result.steps.push(name);
}

try {
  context = await launchChromium(config.userDataDir, {
    executablePath: config.executablePath,
    timeout: STEP,
  });
  result.browserVersion = context.browser()?.version() ?? null;

  let a, b;
  await step("two pages join", async () => {
    a = await openChat("a");
    b = await openChat("b");
    result.uidA = a.uid;
    result.uidB = b.uid;
    await waitForUsers(a.page, [a.uid, b.uid]);
    await waitForUsers(b.page, [a.uid, b.uid]);
    result.usersAfterJoin = { a: await usersOf(a.page), b: await usersOf(b.page) };
  });

  await step("a message from a reaches both", async () => {
    await say(a.page, "hello from a");
    await waitForMessage(a.page, a.uid, "hello from a");
    await waitForMessage(b.page, a.uid, "hello from a");
    result.afterHello = { a: await messagesOf(a.page), b: await messagesOf(b.page) };
  });

  await step("markup is shown as text", async () => {
    await say(b.page, XSS);
    await waitForMessage(a.page, b.uid, XSS);
    await waitForMessage(b.page, b.uid, XSS);
    // A page opened now gets the same message through the history.
    const c = await openChat("c");
    result.uidC = c.uid;
    await waitForMessage(c.page, b.uid, XSS);
    // One more round trip through the server after the markup arrived, for any onerror to run.
    await say(a.page, "after the markup");
    for (const page of [a.page, b.page, c.page]) {
      await waitForMessage(page, a.uid, "after the markup");
    }
    result.imgCounts = {};
    for (const [name, page] of [["a", a.page], ["b", b.page], ["c", c.page]]) {
      result.imgCounts[name] = await page.evaluate(() => document.querySelectorAll("img").length);
    }
    result.afterMarkup = { a: await messagesOf(a.page), c: await messagesOf(c.page) };
    await c.page.close();
    await waitForUsers(a.page, [a.uid, b.uid]);
  });

  await step("screenshot", async () => {
    await a.page.screenshot({ path: config.screenshot, fullPage: true, timeout: STEP });
    result.screenshot = config.screenshot;
  });

  await step("a page reconnects after its socket drops", async () => {
    const before = await messagesOf(a.page);
    // The page's own socket (a top-level binding of its script) drops; the page reconnects.
    await a.page.evaluate(() => socket.close(4001, "test drop"));
    await a.page.waitForFunction(
      (old) => document.body.dataset.uid && document.body.dataset.uid !== old,
      a.uid,
      { timeout: STEP },
    );
    const newUid = await a.page.evaluate(() => document.body.dataset.uid);
    result.uidAReconnected = newUid;
    await waitForUsers(b.page, [newUid, b.uid]);
    await waitForUsers(a.page, [newUid, b.uid]);
    result.usersAfterReconnect = { a: await usersOf(a.page), b: await usersOf(b.page) };
    result.messagesBeforeReconnect = before;
    result.messagesAfterReconnect = await messagesOf(a.page);
    a.uid = newUid;
  });

  await step("closing a page updates the other's connected list", async () => {
    await b.page.close();
    await waitForUsers(a.page, [a.uid]);
    result.usersAfterClose = await usersOf(a.page);
    result.countAfterClose = await a.page.textContent("#count", { timeout: STEP });
  });

  await step("the echo page round-trips a message", async () => {
    const page = await context.newPage();
    page.on("dialog", (dialog) => {
      result.dialogs.push({ page: "echo", type: dialog.type(), message: dialog.message() });
      dialog.dismiss().catch(() => {});
    });
    await page.goto(config.echoUrl, { timeout: STEP });
    await page.waitForFunction(
      () => document.getElementById("status").textContent === "connected",
      null,
      { timeout: STEP },
    );
    await page.fill("#text", `echo ${XSS} ✓`, { timeout: STEP });
    await page.press("#text", "Enter", { timeout: STEP });
    await page.waitForSelector("#messages li.received", { timeout: STEP });
    result.echo = await page.$$eval(
      "#messages li",
      (items) => items.map((li) => ({ kind: li.className, text: li.textContent })),
    );
    result.echoImgCount = await page.evaluate(() => document.querySelectorAll("img").length);
  });

  delete result.current;
  await finish(0);
} catch (error) {
  result.error = String(error?.stack ?? error);
  await finish(1);
}
