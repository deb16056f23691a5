/**
 * A port on 127.0.0.1 where TCP connections hang: a listener that never accepts, with its accept
 * queue filled. Linux then drops further SYNs (it does not refuse them), so a client's connect
 * stays pending until the client gives up: what a test of "timed out connecting" needs without a
 * remote host. Runs under Deno, whose listener (unlike Bun's or node:net's) accepts only when
 * asked to.
 *
 * It connects to itself, one connection at a time, until the kernel counts a SYN dropped because
 * the queue overflowed (TcpExt ListenOverflows in /proc/net/netstat): from then on the queue is
 * full for good, since nothing accepts. No guess at the backlog, no timing.
 *
 * Prints `{"port": N}` once the queue is full, or `{"skip": "why"}` where this cannot be done;
 * then stays until killed.
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;

/** How many SYNs this network namespace has dropped on full accept queues; null if unknown. */
function listenOverflows(): number | null {
  try {
    const lines = Deno.readTextFileSync("/proc/net/netstat").split("\n");
    const names = lines.findIndex((line) => line.startsWith("TcpExt:"));
    const column = lines[names].split(/\s+/).indexOf("ListenOverflows");
    const value = Number(lines[names + 1].split(/\s+/)[column]);
    return column > 0 && Number.isSafeInteger(value) ? value : null;
  } catch {
    return null;
  }
}

const baseline = listenOverflows();
if (baseline === null) {
  console.log(JSON.stringify({ skip: "no ListenOverflows counter in /proc/net/netstat" }));
} else {
  const held: Deno.Conn[] = [];
  let full = false;
  while (!full && held.length < 70_000) {
    let conn: Deno.Conn | null = null;
    const connecting = Deno.connect({ hostname: "127.0.0.1", port }).then((c) => conn = c);
    connecting.catch(() => {}); // the last one stays pending until the process ends
    // Wait for this connection, or for the kernel to say it dropped a SYN: the queue is full.
    while (conn === null && !full) {
      await Promise.race([connecting, new Promise((resolve) => setTimeout(resolve, 5))]);
      full = conn === null && (listenOverflows() ?? baseline) > baseline;
    }
    if (conn !== null) held.push(conn);
  }
  console.log(
    JSON.stringify(full ? { port, queued: held.length } : { skip: "the queue never filled" }),
  );
}
// Stay, holding the listener and the queued connections, until the test kills this process.
setInterval(() => {}, 60_000);
