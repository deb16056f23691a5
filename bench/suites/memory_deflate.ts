/**
 * The memory-deflate suite: the memory suite with permessage-deflate negotiated on every
 * connection (the offer a browser sends), against the compressing echo servers. A compressor and
 * an inflater per connection (zlib contexts, up to a few hundred KiB each) are the classic cost
 * of compression; this shows what each server pays for them while the connections are idle.
 *
 * @module
 */

import type { Options } from "../lib/args.ts";
import { deflateServers, NO_DEFLATE } from "../lib/deflate_servers.ts";
import type { MemSample } from "../lib/results.ts";
import { idleMemory } from "./memory.ts";

/** The offer of Chromium and Firefox. */
export const BROWSER_DEFLATE_OFFER = "permessage-deflate; client_max_window_bits";

/** Runs the suite: every round, every server that can compress. */
export async function memoryDeflateSuite(o: Options): Promise<MemSample[]> {
  const servers = deflateServers(o.servers);
  console.log(
    `\n== memory per idle connection, permessage-deflate negotiated: ${o.idleConns} open ` +
      `WebSockets offering "${BROWSER_DEFLATE_OFFER}" ==`,
  );
  for (const s of o.servers.filter((x) => NO_DEFLATE[x])) {
    console.log(`  (${s} left out: ${NO_DEFLATE[s]})`);
  }
  return await idleMemory({ ...o, servers }, "deflate", ["--extensions", BROWSER_DEFLATE_OFFER]);
}
