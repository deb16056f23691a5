/**
 * The echo example's page: a text box, Send and Close buttons, and the list of messages. Kept in
 * a module (not an .html file) so the example needs no file-read permission. It sets the
 * viewport's width to the device's (readable on a phone), and its icon is an empty `data:` URL,
 * so the browser asks for no `/favicon.ico`.
 * @module
 */

/** The HTML page; it connects back to the server that served it. */
export const ECHO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>edgews echo</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  form { display: flex; gap: .5rem; }
  input, button { font: inherit; }
  input { flex: 1; min-width: 0; padding: .4rem; }
  button { padding: .4rem .8rem; }
  #status { color: #555; }
  #messages { list-style: none; padding: 0; }
  #messages li { padding: .25rem 0; border-bottom: 1px solid #eee; white-space: pre-wrap;
    overflow-wrap: anywhere; }
  #messages li.sent { color: #555; }
</style>
</head>
<body>
<h1>edgews echo</h1>
<p id="status">connecting…</p>
<form id="form">
  <input id="text" autocomplete="off" placeholder="Type a message" autofocus>
  <button id="send" type="submit" disabled>Send</button>
  <button id="close" type="button" disabled>Close</button>
</form>
<ul id="messages"></ul>
<script>
  const status = document.getElementById("status");
  const list = document.getElementById("messages");
  const text = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const closeButton = document.getElementById("close");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(scheme + "//" + location.host + "/");

  function show(line, kind) {
    const item = document.createElement("li");
    item.textContent = line; // text, never HTML
    item.className = kind;
    list.prepend(item);
  }

  socket.onopen = () => {
    status.textContent = "connected";
    sendButton.disabled = false;
    closeButton.disabled = false;
  };
  socket.onmessage = (event) => show("← " + event.data, "received");
  socket.onclose = (event) => {
    status.textContent = "closed (" + event.code + (event.reason ? " " + event.reason : "") + ")";
    sendButton.disabled = true;
    closeButton.disabled = true;
  };
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    if (text.value === "") return;
    socket.send(text.value);
    show("→ " + text.value, "sent");
    text.value = "";
  };
  closeButton.onclick = () => socket.close(1000, "bye");
</script>
</body>
</html>
`;
