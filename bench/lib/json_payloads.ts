/**
 * The messages of the compression suite: realistic JSON text (chat and event objects with
 * repeated keys and varied values, from a seeded generator, the same every run), compressed the
 * way a permessage-deflate client with client_no_context_takeover sends them, and written in the
 * load generator's `--payload-file` format.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { seeded } from "../../tests/helpers/random.ts";
import { ROOT } from "./paths.ts";

const USERS = [
  "ada",
  "linus",
  "grace",
  "ken",
  "barbara",
  "dennis",
  "margaret",
  "guido",
  "yukihiro",
];
const ROOMS = ["general", "random", "deploys", "incidents", "design", "support-eu", "support-us"];
const WORDS = (
  "the deploy is done can you look at this build failed again latency went up after the " +
  "release I will roll back now thanks works for me see the dashboard we need a fix before " +
  "friday merged ticket updated customer reports slow pages on mobile retry queue is growing"
).split(" ");
const TYPES = ["message", "message", "message", "reaction", "typing", "presence", "edit"];

/** One chat or event object. */
function event(next: () => number, i: number): Record<string, unknown> {
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)];
  const words = Array.from({ length: 3 + Math.floor(next() * 14) }, () => pick(WORDS));
  const type = pick(TYPES);
  const base = {
    id: `evt_${(1_000_000 + Math.floor(next() * 9_000_000)).toString(36)}`,
    type,
    room: pick(ROOMS),
    user: { name: pick(USERS), id: 1000 + Math.floor(next() * 9000) },
    ts: 1_760_000_000_000 + i * 1000 + Math.floor(next() * 1000),
  };
  if (type === "reaction") return { ...base, emoji: pick(["+1", "eyes", "tada", "fire"]) };
  if (type === "typing") return { ...base, active: next() < 0.7 };
  if (type === "presence") return { ...base, status: pick(["online", "away", "offline"]) };
  return {
    ...base,
    text: words.join(" "),
    mentions: next() < 0.2 ? [pick(USERS)] : [],
    edited: type === "edit",
  };
}

/** A JSON array of events, exactly `size` bytes of ASCII (the last text padded to fit). */
export function jsonMessage(size: number, seed: number): string {
  const next = seeded(seed); // the same messages on every run and machine
  const items: Record<string, unknown>[] = [];
  const filler = { type: "message", text: "" };
  for (let i = 0;; i++) {
    const e = event(next, i);
    if (JSON.stringify([...items, e, filler]).length > size) break;
    items.push(e);
  }
  items.push(filler);
  let text = "";
  while (JSON.stringify(items).length + text.length < size) {
    text += `${WORDS[Math.floor(next() * WORDS.length)]} `;
  }
  filler.text = text.slice(0, size - JSON.stringify(items).length);
  const out = JSON.stringify(items);
  if (out.length !== size) throw new Error(`message of ${out.length} bytes, not ${size}`);
  return out;
}

/**
 * `data` as one permessage-deflate message payload (RFC 7692 §7.2.1): raw deflate ending in a
 * sync flush, whose trailing 00 00 ff ff is removed. Each is compressed on its own, so the server
 * can inflate it whatever came before (what client_no_context_takeover promises).
 */
export function deflateMessage(data: Uint8Array): Uint8Array {
  const z = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  const tail = z.subarray(z.length - 4);
  if (tail[0] !== 0 || tail[1] !== 0 || tail[2] !== 0xff || tail[3] !== 0xff) {
    throw new Error("deflate output does not end in a sync flush");
  }
  const payload = z.subarray(0, z.length - 4);
  // The check a server does: append the tail again and inflate.
  const back = inflateRawSync(Buffer.concat([payload, tail]), {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  if (!back.equals(Buffer.from(data))) throw new Error("deflated message does not inflate back");
  return payload;
}

/**
 * How many different messages of `size` bytes the connections send in turn: enough for 128 KiB
 * of text, so that a server compressing with context takeover (a 32 KiB window) never finds the
 * message it compresses whole in its window.
 */
export function messageCount(size: number): number {
  return Math.max(2, Math.ceil((128 * 1024) / size));
}

/** Payload file stats: the messages' total and compressed sizes. */
export type PayloadFile = { path: string; messages: number; bytes: number; compressed: number };

/**
 * Writes the compressed messages of `size` bytes to a `--payload-file` for the load generator
 * (each as a 4-byte big-endian length and the bytes); returns its path and sizes.
 */
export async function writeDeflatePayloads(size: number): Promise<PayloadFile> {
  const count = messageCount(size);
  const parts: Uint8Array[] = [];
  let bytes = 0, compressed = 0;
  for (let k = 0; k < count; k++) {
    const text = new TextEncoder().encode(jsonMessage(size, k + 1));
    const z = deflateMessage(text);
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, z.length);
    parts.push(head, z);
    bytes += text.length;
    compressed += z.length;
  }
  const path = `${ROOT}/bench/.build/deflate-payloads-${size}.bin`;
  await Deno.mkdir(`${ROOT}/bench/.build`, { recursive: true });
  await Deno.writeFile(path, Buffer.concat(parts));
  return { path, messages: count, bytes, compressed };
}
