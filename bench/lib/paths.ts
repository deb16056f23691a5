/**
 * Where the benchmark finds its tools and puts its output. Paths are absolute (from this file's
 * location) so that the runner works from any working directory.
 *
 * @module
 */

/** The repository's root folder (no trailing slash). */
export const ROOT: string = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** The Deno running the runner: the servers run on the same version. */
export const DENO: string = Deno.execPath();
/** Bun as installed by npm (package.json's devDependencies). */
export const BUN: string = `${ROOT}/node_modules/.bin/bun`;
/** Node as installed by npm (the pinned one, not the system's). */
export const NODE: string = `${ROOT}/node_modules/.bin/node`;
/** The load generator's source and the binary built from it (git ignores bench/.build/). */
export const LOADGEN_SRC: string = `${ROOT}/bench/loadgen/loadgen.c`;
/** The compiled load generator. */
export const LOADGEN: string = `${ROOT}/bench/.build/loadgen`;
/** The default folder for RESULTS.md, SCALEOUT.md, results.svg and results/ (see `--out`). */
export const BENCH_DIR: string = `${ROOT}/bench`;
