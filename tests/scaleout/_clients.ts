/**
 * Clients for the scale-out tests: the runtime's built-in `WebSocket`, opened many at a time, each
 * with a bounded wait for every step; and what the kernel says about which process holds which
 * connection (Linux /proc, as SO_REUSEPORT is Linux only).
 * @module
 */

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import process from "node:process";
import { within } from "../helpers/timing.ts";

/** How a WebSocket ended, as its `close` event reported it. */
export interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** An open built-in WebSocket with its text messages and its end. */
export interface Client {
  ws: WebSocket;
  /** The next text message (in order of arrival); rejects after `ms` or once the socket closed. */
  next(ms: number): Promise<string>;
  /** Settles with the close event. */
  closed: Promise<Closed>;
}

/** Opens a WebSocket to `url`; rejects if it closes before opening or takes over `ms`. */
export async function openClient(url: string, ms: number): Promise<Client> {
  const ws = new WebSocket(url);
  const inbox: string[] = [];
  let wake = () => {};
  let ended = false;
  ws.onmessage = (event) => {
    inbox.push(String(event.data));
    wake();
  };
  const closed = new Promise<Closed>((resolve) => {
    ws.onclose = (event) => {
      ended = true;
      wake();
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    };
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    closed.then((info) => reject(new Error(`${url} closed before opening: ${info.code}`)));
  });
  try {
    await within(opened, ms, `opening ${url}`);
  } catch (error) {
    ws.close();
    throw error;
  }
  const next = (ms: number) =>
    within(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          if (inbox.length > 0) resolve(inbox.shift()!);
          else if (ended) reject(new Error(`${url} closed while a message was awaited`));
          else wake = check;
        };
        check();
      }),
      ms,
      `a message from ${url}`,
    );
  return { ws, next, closed };
}

/** Opens `count` clients at once; if any fails, closes the others and rethrows. */
export async function openClients(url: string, count: number, ms: number): Promise<Client[]> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, () => openClient(url, ms)),
  );
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) {
    for (const r of results) if (r.status === "fulfilled") r.value.ws.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<Client>).value);
}

/** Closes every client and waits (up to `ms`) for the closes to complete. */
export async function closeClients(clients: Client[], ms: number): Promise<void> {
  for (const client of clients) client.ws.close();
  await within(Promise.all(clients.map((c) => c.closed)), ms, "the clients to close");
}

/**
 * How many established TCP connections on local port `port` (IPv4) each of `pids` holds, from
 * the kernel's tables: /proc/net/tcp maps connections to socket inodes, /proc/<pid>/fd maps
 * inodes to processes. This sees which process accepted a connection without the server saying.
 */
export function connectionsByPid(port: number, pids: number[]): Map<number, number> {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl, local_address, rem_address, st, ..., inode (the tenth field); 01 is ESTABLISHED.
    if (fields.length < 10 || fields[3] !== "01") continue;
    if (fields[1].endsWith(`:${portHex}`)) inodes.add(fields[9]);
  }
  const counts = new Map<number, number>();
  for (const pid of pids) {
    let count = 0;
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      // Exited: it holds nothing.
    }
    for (const fd of fds) {
      try {
        const match = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (match !== null && inodes.has(match[1])) count++;
      } catch {
        // Closed between listing and reading.
      }
    }
    counts.set(pid, count);
  }
  return counts;
}

/** Whether a process with this pid exists (a zombie counts: its parent has not reaped it). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is someone else's; only ESRCH means gone.
    return (error as { code?: string }).code === "EPERM";
  }
}
