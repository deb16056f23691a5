/**
 * An `Origin` allow-list for the `upgrade` hook, against cross-site WebSocket hijacking: browsers
 * let any page open a WebSocket to any server, sending the user's cookies, and say in `Origin`
 * which site the page came from. Only the server can refuse.
 * @module
 */

/** Options for {@link allowOrigins}. */
export interface AllowOriginsOptions {
  /**
   * Accept requests without an `Origin` header. Browsers always send one, so its absence means a
   * non-browser client, which cookies-based hijacking does not concern. Defaults to true.
   */
  allowMissing?: boolean;
}

/**
 * Builds a check for the `upgrade` hook: it returns a 403 `Response` when the request's `Origin`
 * is not allowed, and undefined when it is.
 *
 * `allowed` is a list of origins (`"https://chat.example.com"`, compared by scheme, host and
 * port; `"null"` for opaque origins) or a predicate on the `Origin` value.
 *
 * @example
 * ```ts
 * import { allowOrigins, serve } from "@edgews/edgews";
 *
 * const checkOrigin = allowOrigins(["https://chat.example.com"]);
 * serve({
 *   upgrade(request) {
 *     return checkOrigin(request) ?? { data: { joined: Date.now() } };
 *   },
 *   websocket: { message(ws, message) { ws.send(message); } },
 * });
 * ```
 */
export function allowOrigins(
  allowed: readonly string[] | ((origin: string) => boolean),
  options: AllowOriginsOptions = {},
): (request: Request) => Response | undefined {
  const allowMissing = options.allowMissing ?? true;
  const isAllowed = typeof allowed === "function" ? allowed : originSet(allowed);
  return (request) => {
    const origin = request.headers.get("origin");
    if (origin === null ? allowMissing : isAllowed(origin)) return undefined;
    return new Response("Origin not allowed\n", {
      status: 403,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };
}

function originSet(origins: readonly string[]): (origin: string) => boolean {
  const set = new Set(origins.map(normalizeOrigin));
  return (origin) => set.has(normalizeOrigin(origin));
}

/** `https://Example.com:443/` and `https://example.com` are the same origin. */
function normalizeOrigin(origin: string): string {
  if (origin === "null") return origin;
  try {
    return new URL(origin).origin;
  } catch {
    return `invalid:${origin}`;
  }
}
