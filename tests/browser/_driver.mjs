/**
 * Drives headless Chromium (Debian's, through playwright-core) against the chat and echo
 * examples, and prints what it saw as one JSON line (`RESULT {...}`) for the test to assert on.
 * Runs under Node, so the same test works under `deno test` and `bun test`:
 *
 *   node tests/browser/_driver.mjs '{"chatUrl":…,"echoUrl":…,"userDataDir":…,"screenshot":…,
 *     "phoneScreenshot":…}'
 *   node tests/browser/_driver.mjs '{"scenario":"instances","chatUrls":[…, …],"userDataDir":…}'
 *
 * The first runs the single-server scenario (chat, its layout with many messages and on a phone,
 * the page's rules against a scripted socket, echo); the second, two pages on two chat instances
 * that share a Redis. Both record every console error and uncaught exception of every page.
 *
 * Every wait is for a condition in the page, with a timeout; the whole run has a deadline after
 * which the browser is closed and the driver exits with status 2. Exit status 1: a scenario step
 * failed (the error is in the result).
 */

import { writeFileSync } from "node:fs";
import process from "node:process";
import { launchChromium } from "../helpers/chromium.mjs";

const config = JSON.parse(process.argv[2]);
const STEP = config.stepTimeoutMs ?? 15_000;
const XSS = "<img src=x onerror=alert(1)>";
/** How many messages make the chat longer than any window. */
const MANY = 50;
/** Messages a page sends at once to go over the chat's rate limit (a burst of 20). */
const FAST = 40;
/** A URL with 200 characters and no place to break: it must wrap anyway, on a phone too. */
const LONG_WORD = `https://example.com/?q=${"x".repeat(200)}`;
/** The `i`th of the many messages (the middle one a long word). */
const manyMessage = (i) => i === MANY / 2 ? LONG_WORD : `message ${i} of ${MANY}`;

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

/**
 * Records the page's dialogs, console errors (a failed request, such as a `/favicon.ico` that is
 * not found, is one) and uncaught exceptions in the result, under `name`.
 */
function watch(page, name) {
  page.on("dialog", (dialog) => {
    result.dialogs.push({ page: name, type: dialog.type(), message: dialog.message() });
    dialog.dismiss().catch(() => {});
  });
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const { url } = message.location();
    result.consoleErrors.push(`${name}: ${message.text()}${url ? ` (${url})` : ""}`);
  });
  page.on("pageerror", (error) => result.consoleErrors.push(`${name}: uncaught ${error}`));
  return page;
}

/**
 * A new page that a phone's browser would show: 375×667 CSS px, twice as many device pixels, and
 * mobile rules (the layout is 980 px wide unless the page's `<meta name="viewport">` says
 * otherwise). Set through the DevTools protocol, as the profile's context cannot change its own
 * options; returns the page and its session (for screenshots at that size).
 */
async function newPhonePage(name) {
  const page = watch(await context.newPage(), name);
  const session = await context.newCDPSession(page);
  await session.send("Emulation.setDeviceMetricsOverride", {
    width: 375,
    height: 667,
    deviceScaleFactor: 2,
    mobile: true,
  });
  await session.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 5 });
  return { page, session };
}

/** Saves a screenshot of what the phone page's screen shows. */
async function phoneScreenshot(session, path) {
  const { data } = await session.send("Page.captureScreenshot", { format: "png" });
  writeFileSync(path, Buffer.from(data, "base64"));
}

/**
 * Where the page's parts are, against the window (the layout viewport): whether the window
 * scrolls, whether the status, the text box, the send button (and on the chat page the member
 * list) are fully in view, and whether the last message shows, fully, in the message list and in
 * view. Rectangles are rounded to the pixel, for the failure messages.
 */
function layoutOf(page) {
  return page.evaluate(() => {
    const box = (element) => {
      const r = element.getBoundingClientRect();
      return {
        top: Math.round(r.top),
        bottom: Math.round(r.bottom),
        left: Math.round(r.left),
        right: Math.round(r.right),
        width: Math.round(r.width),
        height: Math.round(r.height),
      };
    };
    const inView = (b) =>
      b.height > 0 && b.top >= 0 && b.left >= 0 && b.bottom <= innerHeight &&
      b.right <= innerWidth;
    const list = document.getElementById("messages");
    const last = list.lastElementChild;
    const listBox = box(list);
    const lastBox = last === null ? null : box(last);
    const parts = {};
    for (const id of ["status", "text", "send", "users"]) {
      const element = document.getElementById(id);
      if (element !== null) parts[id] = inView(box(element.closest("aside") ?? element));
    }
    return {
      innerWidth,
      innerHeight,
      scrollWidth: document.documentElement.scrollWidth,
      scrollHeight: document.documentElement.scrollHeight,
      scrollY,
      inView: parts,
      list: listBox,
      // A word too long for the list's width wraps rather than making the list scroll sideways.
      listOverflowsSideways: list.scrollWidth > list.clientWidth,
      last: lastBox,
      lastText: last?.querySelector(".text")?.textContent ?? last?.textContent ?? null,
      lastShown: lastBox !== null && inView(lastBox) && lastBox.top >= listBox.top &&
        lastBox.bottom <= listBox.bottom,
      listScrollTop: Math.round(list.scrollTop),
      textBox: box(document.getElementById("text")),
    };
  });
}

/** Resolves once the page has rendered twice: scroll events have been dispatched by then. */
function rendered(page) {
  return page.evaluate(() =>
    new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))
  );
}

/** Opens the chat page (of `url`); resolves with its uid once welcomed. */
async function openChat(name, url = config.chatUrl, page = null) {
  page ??= watch(await context.newPage(), name);
  await page.goto(url, { timeout: STEP });
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

/** The chat and echo pages against one server of each. */
async function singleServer() {
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

  await step("50 messages: the text box and the status stay in view", async () => {
    // At a pace the chat's rate limit lets through (5 a second after a burst of 20).
    for (let i = 1; i <= MANY; i++) {
      await say(a.page, manyMessage(i));
      if (i >= 10) await new Promise((resolve) => setTimeout(resolve, 230));
    }
    for (const page of [a.page, b.page]) await waitForMessage(page, a.uid, manyMessage(MANY));
    await rendered(a.page);
    await rendered(b.page);
    result.desktop = { a: await layoutOf(a.page), b: await layoutOf(b.page) };
  });

  await step("a list scrolled up stays there; a message sent scrolls it down", async () => {
    await b.page.evaluate(() => document.getElementById("messages").scrollTop = 0);
    await rendered(b.page);
    await say(a.page, "while b reads");
    await waitForMessage(b.page, a.uid, "while b reads");
    await rendered(b.page);
    const reading = await layoutOf(b.page);
    await say(b.page, "b is back");
    await waitForMessage(b.page, b.uid, "b is back");
    await rendered(b.page);
    result.scrolledUp = { reading, afterSending: await layoutOf(b.page) };
  });

  await step("screenshot", async () => {
    await a.page.screenshot({ path: config.screenshot, fullPage: true, timeout: STEP });
    result.screenshot = config.screenshot;
  });

  await step("the chat on a phone", async () => {
    const { page, session } = await newPhonePage("phone");
    const phone = await openChat("phone", config.chatUrl, page);
    await waitForMessage(page, b.uid, "b is back"); // the history
    await waitForUsers(page, [a.uid, b.uid, phone.uid]);
    await rendered(page);
    result.phone = await layoutOf(page);
    await say(page, "from the phone");
    await waitForMessage(a.page, phone.uid, "from the phone");
    await waitForMessage(page, phone.uid, "from the phone");
    await rendered(page);
    result.phoneAfterSending = await layoutOf(page);
    await phoneScreenshot(session, config.phoneScreenshot);
    result.phoneScreenshot = config.phoneScreenshot;
    await page.close();
    await waitForUsers(a.page, [a.uid, b.uid]);
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

  await step(
    "a page that sends too fast is told, and the room gets no more than the limit",
    async () => {
      // Straight from the page's socket, faster than anyone types.
      await a.page.evaluate((count) => {
        for (let i = 0; i < count; i++) socket.send(JSON.stringify({ message: `fast ${i}` }));
      }, FAST);
      await a.page.waitForFunction(
        () =>
          [...document.querySelectorAll("#messages li.error")].some((li) =>
            /too fast/.test(li.textContent)
          ),
        null,
        { timeout: STEP },
      );
      result.rateNotice = await a.page.$$eval(
        "#messages li.error",
        (items) => items.map((li) => li.textContent).filter((text) => /too fast/.test(text)),
      );
      await waitForMessage(b.page, a.uid, "fast 0");
      // Give whatever the server let through time to arrive, then count.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      result.fastRelayed =
        (await messagesOf(b.page)).filter((m) => m.text.startsWith("fast ")).length;
    },
  );

  await step("closing a page updates the other's connected list", async () => {
    await b.page.close();
    await waitForUsers(a.page, [a.uid]);
    result.usersAfterClose = await usersOf(a.page);
    result.countAfterClose = await a.page.textContent("#count", { timeout: STEP });
  });

  await step("the echo page round-trips a message", async () => {
    const page = watch(await context.newPage(), "echo");
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
    await page.close();
  });

  await step("the echo page on a phone", async () => {
    const { page } = await newPhonePage("echo phone");
    await page.goto(config.echoUrl, { timeout: STEP });
    await page.waitForFunction(
      () => document.getElementById("status").textContent === "connected",
      null,
      { timeout: STEP },
    );
    await say(page, LONG_WORD);
    await page.waitForSelector("#messages li.received", { timeout: STEP });
    await rendered(page);
    result.echoPhone = await layoutOf(page);
    await page.close();
  });

  await step("the page's rules, against a scripted socket", pageRules);
}

/**
 * The chat page against a scripted server (playwright's routeWebSocket: the page's socket talks to
 * this function, not to a server), for what real servers do only by chance of timing: a live
 * message before the history that holds it too, a duplicate, an older member list after a newer
 * one; then the reconnect's `since`, and versions starting over on the new connection.
 */
async function pageRules() {
  const page = watch(await context.newPage(), "rules");
  const connections = [];
  await page.routeWebSocket(/\/chat/, (ws) => {
    connections.push({ url: ws.url(), ws });
  });
  await page.goto(config.chatUrl, { timeout: STEP });
  const time = new Date(0).toISOString();
  const entry = (id, uid, message) => ({ id, uid, message, time });
  const send = (ws, data) => ws.send(JSON.stringify(data));
  /** The page's `count`th connection to the scripted socket, once it has opened it. */
  const waitForConnections = async (count) => {
    const deadline = Date.now() + STEP;
    while (connections.length < count) {
      if (Date.now() > deadline) throw new Error(`no connection ${count} to the scripted socket`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return connections[count - 1];
  };

  const first = await waitForConnections(1);
  send(first.ws, { type: "welcome", uid: "me-1" });
  send(first.ws, { type: "message", ...entry("100-0", "other", "live, then in the history") });
  send(first.ws, {
    type: "history",
    messages: [
      entry("90-0", "other", "older"),
      entry("95-3", "me-1", "old"),
      entry("100-0", "other", "live, then in the history"),
    ],
  });
  send(first.ws, { type: "message", ...entry("100-0", "other", "live, then in the history") });
  send(first.ws, { type: "message", ...entry("100-1", "other", "live after the history") });
  send(first.ws, { type: "message", ...entry(null, "other", "not kept (no id)") });
  send(first.ws, { type: "presence", users: ["me-1", "other"], version: 7 });
  send(first.ws, { type: "presence", users: ["me-1"], version: 6 }); // older: ignored
  send(first.ws, { type: "presence", users: ["me-1", "other", "third"], version: 8 });
  send(first.ws, { type: "presence", users: ["me-1", "other"], version: 6 }); // older: ignored
  await waitForMessage(page, "other", "not kept (no id)");
  result.rulesMessages = await messagesOf(page);
  result.rulesUsers = await usersOf(page);

  // The scripted server drops the connection: the page reconnects, asking for what is newer.
  first.ws.close({ code: 1001, reason: "scripted" });
  const second = await waitForConnections(2);
  result.rulesReconnectUrl = second.url;
  send(second.ws, { type: "welcome", uid: "me-2" });
  send(second.ws, { type: "history", messages: [entry("100-2", "other", "while away")] });
  // A new connection starts over: a version lower than the last connection's is taken.
  send(second.ws, { type: "presence", users: ["me-2", "other"], version: 2 });
  await waitForMessage(page, "other", "while away");
  await waitForUsers(page, ["me-2", "other"]);
  result.rulesMessagesAfterReconnect = await messagesOf(page);
  await page.close();
}

/** Two pages, each on its own chat instance; the instances share a Redis. */
async function instances() {
  const [urlA, urlB] = config.chatUrls;
  let a, b;
  await step("two pages on two instances join", async () => {
    a = await openChat("a", urlA);
    b = await openChat("b", urlB);
    result.uidA = a.uid;
    result.uidB = b.uid;
    await waitForUsers(a.page, [a.uid, b.uid]);
    await waitForUsers(b.page, [a.uid, b.uid]);
    result.usersAfterJoin = { a: await usersOf(a.page), b: await usersOf(b.page) };
  });

  await step("each sees the other's message", async () => {
    await say(a.page, "hello from the first instance");
    await waitForMessage(b.page, a.uid, "hello from the first instance");
    await waitForMessage(a.page, a.uid, "hello from the first instance");
    await say(b.page, "hello from the second instance");
    await waitForMessage(a.page, b.uid, "hello from the second instance");
    await waitForMessage(b.page, b.uid, "hello from the second instance");
    result.afterHello = { a: await messagesOf(a.page), b: await messagesOf(b.page) };
  });

  await step("a page that was away gets what it missed, once", async () => {
    // Its socket closes without the page's reconnect (onclose removed), so it stays away for sure
    // while b speaks; then the page's own connect() brings it back.
    await a.page.evaluate(() => {
      socket.onclose = null;
      socket.close(4001, "test away");
    });
    await waitForUsers(b.page, [b.uid]);
    await say(b.page, "while a was away");
    await waitForMessage(b.page, b.uid, "while a was away");
    await a.page.evaluate(() => connect());
    await waitForMessage(a.page, b.uid, "while a was away");
    const newUid = await a.page.evaluate(() => document.body.dataset.uid);
    result.uidAReconnected = newUid;
    await waitForUsers(a.page, [newUid, b.uid]);
    await waitForUsers(b.page, [newUid, b.uid]);
    result.afterAway = { a: await messagesOf(a.page), b: await messagesOf(b.page) };
  });
}

try {
  context = await launchChromium(config.userDataDir, {
    executablePath: config.executablePath,
    timeout: STEP,
  });
  result.browserVersion = context.browser()?.version() ?? null;
  if (config.scenario === "instances") await instances();
  else await singleServer();
  delete result.current;
  await finish(0);
} catch (error) {
  result.error = String(error?.stack ?? error);
  await finish(1);
}
