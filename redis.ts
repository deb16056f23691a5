/**
 * Redis as the backplane of an edgews server: topics span every process and machine of an
 * application. This entry point depends on node-redis (`redis` on npm); `@edgews/edgews` itself
 * stays dependency-free.
 *
 * ```ts
 * import { serve } from "@edgews/edgews";
 * import { RedisBackplane } from "@edgews/edgews/redis";
 *
 * const server = serve({
 *   port: 8080,
 *   backplane: new RedisBackplane({ url: "redis://127.0.0.1:6379" }),
 *   websocket: {
 *     open(ws) { ws.subscribe("room"); },
 *     message(ws, message) { ws.publish("room", message); }, // every instance's subscribers
 *   },
 * });
 * ```
 *
 * @module
 */

export {
  RedisBackplane,
  type RedisBackplaneEvent,
  type RedisBackplaneOptions,
  type RedisBackplaneState,
  type RedisBackplaneStats,
  type RedisFailure,
  type RedisTlsOptions,
} from "./src/redis/backplane.ts";
