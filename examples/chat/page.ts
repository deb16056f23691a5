/**
 * The chat example's page: who is connected, the messages, a text box. Kept in a module (not an
 * .html file) so the example needs no file-read permission.
 *
 * Everything a user typed is put in the page with `textContent`, never as HTML, so a message such
 * as `<img src=x onerror=alert(1)>` shows as those characters. After a drop the page reconnects
 * with exponential backoff (0.5 s doubling to 10 s, with jitter); the new connection gets a new
 * uid, and asks only for the messages after the newest it shows (`/chat?since=<id>`), so what was
 * said meanwhile appears and nothing twice, whichever instance it reconnects to.
 *
 * A connection is subscribed to the room before its history is read, so live messages may arrive
 * before the history: the page puts the history above the messages that arrived live on this
 * connection, and skips every message whose id it already shows. Of two member lists, it keeps
 * the one with the higher `version` (two instances may publish at once, and the older list may
 * arrive last).
 *
 * The page is the window's height and does not scroll itself: the message list does, following
 * new messages unless the user scrolled up to read, so the status and the text box stay in view.
 * Under 40rem (a phone) the member list becomes a compact line above the messages. The icon is
 * an empty `data:` URL, so the browser asks for no `/favicon.ico`.
 * @module
 */

/** The HTML page; it connects back to the server that served it, at `/chat`. */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, interactive-widget=resizes-content">
<link rel="icon" href="data:,">
<title>edgews chat</title>
<style>
  /* The page is exactly the window's height and does not scroll: the message list does (and a
     long member list), so the title, the status and the text box stay in view. */
  body { font: 16px system-ui, sans-serif; max-width: 48rem; margin: 0 auto; padding: 1rem 1rem 0;
    box-sizing: border-box; height: 100vh; height: 100dvh; display: flex; flex-direction: column; }
  h1 { margin: .5rem 0; }
  #status { color: #555; margin: 0 0 1rem; }
  main { flex: 1; min-height: 0; display: flex; gap: 1.5rem; }
  section { flex: 1; min-width: 0; min-height: 0; display: flex; flex-direction: column; }
  aside { width: 14rem; overflow-y: auto; }
  aside h2 { margin-top: 0; }
  form { display: flex; gap: .5rem; padding: .75rem 0 1rem; }
  input, button { font: inherit; }
  input { flex: 1; min-width: 0; padding: .4rem; }
  button { padding: .4rem .8rem; }
  #messages { flex: 1; min-height: 3rem; overflow-y: auto; list-style: none; padding: 0; margin: 0;
    border: 1px solid #ddd; border-width: 1px 0; }
  #messages li { padding: .25rem 0; border-bottom: 1px solid #eee; white-space: pre-wrap;
    overflow-wrap: anywhere; }
  #messages li:last-child { border-bottom: none; }
  #messages .uid, #users li { font-family: ui-monospace, monospace; font-size: .85em; color: #06c; }
  #messages .time { color: #888; font-size: .8em; margin-right: .5em; }
  #messages li.mine .uid, #users li.me { font-weight: bold; }
  #messages li.error { color: #b00; }
  #users { padding-left: 1.2rem; }
  /* A phone: the member list becomes a compact line above the messages, which get the width. */
  @media (max-width: 40rem) {
    body { padding: .5rem .75rem 0; }
    h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
    #status { font-size: .9rem; margin-bottom: .5rem; }
    main { flex-direction: column; gap: .5rem; }
    aside { order: -1; flex: none; width: auto; max-height: 3.2rem; display: flex; gap: .5rem;
      align-items: baseline; }
    aside h2 { font-size: .9rem; margin: 0; white-space: nowrap; }
    #users { display: flex; flex-wrap: wrap; gap: 0 .75rem; list-style: none; padding: 0;
      margin: 0; min-width: 0; }
    form { padding: .5rem 0 .75rem; }
  }
</style>
</head>
<body>
<h1>edgews chat</h1>
<p id="status">connecting…</p>
<main>
<section>
<ul id="messages"></ul>
<form id="form">
  <input id="text" autocomplete="off" maxlength="2000" placeholder="Type a message" autofocus>
  <button id="send" type="submit" disabled>Send</button>
</form>
</section>
<aside>
<h2>Connected (<span id="count">0</span>)</h2>
<ul id="users"></ul>
</aside>
</main>
<script>
  "use strict";
  const status = document.getElementById("status");
  const list = document.getElementById("messages");
  const users = document.getElementById("users");
  const count = document.getElementById("count");
  const text = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const base = (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/chat";
  const MAX_SHOWN = 500; // the page keeps a bounded list too

  let socket = null;
  let myUid = null;
  let attempt = 0;
  /** The messages shown, by id (messages without an id, not kept by the server, are not here). */
  const shown = new Map();
  /** The newest id shown: a reconnect asks for the messages after it. */
  let newestId = null;
  /** The first message that arrived live on the current connection: history goes above it. */
  let firstLive = null;
  /** The version of the member list shown, on the current connection. */
  let presenceVersion = -Infinity;
  /** Whether the list follows new messages (stays scrolled to the bottom): unless the user
   * scrolled up to read. Sending a message follows again. */
  let following = true;

  list.addEventListener("scroll", () => {
    following = list.scrollHeight - list.scrollTop - list.clientHeight < 32;
  });
  function follow() {
    if (following) list.scrollTop = list.scrollHeight;
  }
  // The list's height changes with the window's (a phone's keyboard, rotation): keep following.
  new ResizeObserver(follow).observe(list);

  function short(uid) {
    return uid.slice(0, 8);
  }

  // Ids are "<ms>-<seq>": compared as two numbers, not as text.
  function isNewer(id, than) {
    const [ms, seq] = id.split("-").map(Number);
    const [thanMs, thanSeq] = than.split("-").map(Number);
    return ms > thanMs || (ms === thanMs && seq > thanSeq);
  }

  // Text only: every piece of user data goes through textContent. The item goes above the
  // element given as before (null: at the end); a message whose id is shown already is skipped.
  function showMessage(entry, before) {
    if (entry.id != null && shown.has(entry.id)) return;
    const item = document.createElement("li");
    item.className = entry.uid === myUid ? "message mine" : "message";
    item.dataset.uid = entry.uid;
    if (entry.id != null) {
      item.dataset.id = entry.id;
      shown.set(entry.id, item);
      if (newestId === null || isNewer(entry.id, newestId)) newestId = entry.id;
    }
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = new Date(entry.time).toLocaleTimeString();
    const who = document.createElement("span");
    who.className = "uid";
    who.title = entry.uid;
    who.textContent = short(entry.uid) + (entry.uid === myUid ? " (you)" : "") + ": ";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = entry.message;
    item.append(time, who, body);
    list.insertBefore(item, before);
    while (list.childElementCount > MAX_SHOWN) {
      const oldest = list.firstElementChild;
      if (oldest.dataset.id) shown.delete(oldest.dataset.id);
      oldest.remove();
      // Everything left is live now: history would go at the top.
      if (oldest === firstLive) firstLive = list.firstElementChild;
    }
    follow();
    return item;
  }

  function showError(error) {
    const item = document.createElement("li");
    item.className = "error";
    item.textContent = "server: " + error;
    list.append(item);
    follow();
  }

  function showUsers(uids) {
    users.replaceChildren(...uids.map((uid) => {
      const item = document.createElement("li");
      item.dataset.uid = uid;
      item.title = uid;
      item.textContent = short(uid) + (uid === myUid ? " (you)" : "");
      if (uid === myUid) item.className = "me";
      return item;
    }));
    count.textContent = String(uids.length);
  }

  function connect() {
    status.textContent = "connecting…";
    firstLive = null;
    presenceVersion = -Infinity;
    const url = newestId === null ? base : base + "?since=" + encodeURIComponent(newestId);
    socket = new WebSocket(url, "chat");
    socket.onmessage = (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      switch (data.type) {
        case "welcome":
          myUid = data.uid;
          attempt = 0;
          document.body.dataset.uid = myUid;
          status.textContent = "connected as " + short(myUid);
          sendButton.disabled = false;
          break;
        case "history":
          // Oldest first, all above what already arrived live on this connection.
          for (const entry of data.messages) showMessage(entry, firstLive);
          break;
        case "message": {
          if (data.uid === myUid) following = true; // what I said shows, even if I scrolled up
          const item = showMessage(data, null);
          if (firstLive === null && item !== undefined) firstLive = item;
          break;
        }
        case "presence":
          if (data.version < presenceVersion) break; // an older list that arrived late
          presenceVersion = data.version;
          showUsers(data.users);
          break;
        case "error":
          showError(data.error);
          break;
      }
    };
    socket.onclose = (event) => {
      socket = null;
      sendButton.disabled = true;
      const delay = Math.min(10000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt++;
      status.textContent = "disconnected (" + event.code + (event.reason ? " " + event.reason : "") +
        "); reconnecting in " + (delay / 1000).toFixed(1) + " s";
      setTimeout(connect, delay);
    };
  }

  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    const message = text.value;
    if (message.trim() === "" || socket === null || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ message }));
    text.value = "";
  };

  connect();
</script>
</body>
</html>
`;
