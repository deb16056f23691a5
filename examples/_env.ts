/**
 * Reads an environment variable on Deno and Bun alike. On Deno it only looks when `--allow-env`
 * was given, so `deno run --allow-net` works too (with the defaults) instead of prompting.
 * @module
 */

import process from "node:process";

interface DenoPermissions {
  permissions: { querySync(descriptor: { name: "env"; variable: string }): { state: string } };
}

/** The variable's value, or undefined when it is unset or not readable. */
export function env(name: string): string | undefined {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno;
  if (
    deno !== undefined &&
    deno.permissions.querySync({ name: "env", variable: name }).state !== "granted"
  ) {
    return undefined;
  }
  return process.env[name];
}
