/**
 * edgews as a user gets it: `import ... from "@edgews/edgews"` and `"@edgews/edgews/redis"`, by
 * those names, under Deno, Bun and Node. Whichever runtime runs this file, the tests spawn each
 * (bounded, 127.0.0.1 only) on _consumer_main.ts: a server with a Redis backplane, an echo through
 * `connect()` and through the runtime's own WebSocket, a publish, a graceful shutdown.
 *
 * - Inside this repository the names resolve to the checkout itself: on Deno through deno.json's
 *   `name` and `exports`, on Bun and Node through package.json's (a package may import its own
 *   name).
 * - From a project in a temporary directory outside the repository, set up the way a user would
 *   after `deno add jsr:@edgews/edgews` or `bunx jsr add @edgews/edgews`, but pointed at this
 *   checkout instead of JSR:
 *   - Deno: a deno.json with the `imports` entry that `deno add` writes
 *     (`jsr:@edgews/edgews@^<version in deno.json>`) and `"links": [<checkout>]`, which makes that
 *     package this folder without asking JSR. With `"nodeModulesDir": "manual"` the redis entry's
 *     `npm:redis` resolves from the node_modules beside the importing file, the checkout's (from
 *     `npm ci`), instead of being downloaded into Deno's cache.
 *   - Bun: `bun link` in the checkout (registered in a BUN_INSTALL inside the temporary directory,
 *     not in ~/.bun), `"@edgews/edgews": "link:@edgews/edgews"` in the project's package.json, and
 *     `bun install`, which makes node_modules/@edgews/edgews a symlink to the checkout; `redis`
 *     then resolves from the checkout's node_modules, as Bun follows the symlink. Not
 *     `file:<checkout>`: Bun installs a `file:` folder's devDependencies as well (oven-sh/bun#22879),
 *     which would download Deno, Bun and Playwright.
 *   - Node: node_modules/@edgews/edgews a symlink to the checkout, as `npm install <checkout>`
 *     makes it (made here by hand: npm would install the checkout's dependencies into it too). Node
 *     follows the symlink, so it runs the checkout's TypeScript (type stripping applies outside
 *     node_modules) and finds `redis` in the checkout's node_modules. (From JSR, `npx jsr add`
 *     installs JavaScript that JSR compiled, which needs no stripping.)
 *   Nothing is fetched: the children's npm and JSR registries are a closed port on 127.0.0.1, so a
 *   download would fail the test rather than go unnoticed.
 * @module
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BIN, freePort, killChildren, ROOT, startChild } from "../helpers/processes.ts";
import type { Runtime } from "../helpers/servers.ts";

const PROGRAM = fileURLToPath(new URL("./_consumer_main.ts", import.meta.url));
/** Each child's deadline, after which it is SIGKILLed and the test fails. */
const DEADLINE_MS = 60_000;
const VERSION: string = JSON.parse(readFileSync(`${ROOT}deno.json`, "utf8")).version;

interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (or its deadline), collecting its output. */
async function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Result> {
  const child = startChild(command, args, { deadlineMs: DEADLINE_MS, cwd, env });
  const { code, signal } = await child.exited;
  return { code, signal, stdout: child.stdout(), stderr: child.stderr() };
}

function explain(what: string, result: Result): string {
  return `${what}: exit ${result.code ?? result.signal}\n` +
    `--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** Asserts that `result` is a clean exit of _consumer_main.ts on `runtime`, and what it printed. */
function assertRoundTrip(runtime: Runtime, result: Result): void {
  assert.equal(result.code, 0, explain(`${runtime} ${PROGRAM}`, result));
  const lines = result.stdout.trim().split("\n");
  assert.deepEqual(JSON.parse(lines[lines.length - 1]), {
    runtime,
    echo: ["text héllo ✓", "binary 0,1,254,255", "text from the runtime's WebSocket"],
    published: 2,
    news: ["text extra", "text extra"],
    backplane: { type: "down", cause: "unreachable" },
    closed: 1001,
  });
}

const DENO_ARGS = ["run", "--allow-net=127.0.0.1", "--allow-env"];
const BUN_ARGS = ["run"];

after(() => killChildren());

describe("the bare names inside this repository", () => {
  test("Deno resolves @edgews/edgews and @edgews/edgews/redis (deno.json)", async () => {
    assertRoundTrip("deno", await run(BIN.deno, [...DENO_ARGS, PROGRAM], ROOT));
  });

  test("Bun resolves @edgews/edgews and @edgews/edgews/redis (package.json)", async () => {
    assertRoundTrip("bun", await run(BIN.bun, [...BUN_ARGS, PROGRAM], ROOT));
  });

  test("Node resolves @edgews/edgews and @edgews/edgews/redis (package.json)", async () => {
    assertRoundTrip("node", await run(BIN.node, [PROGRAM], ROOT));
  });
});

describe("a project outside the repository that depends on this checkout", () => {
  let dir: string;
  let offline: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "edgews-consumer-"));
    const registry = `http://127.0.0.1:${await freePort()}/`;
    offline = {
      NPM_CONFIG_REGISTRY: registry,
      BUN_CONFIG_REGISTRY: registry,
      JSR_URL: registry,
      DENO_NO_UPDATE_CHECK: "1",
    };
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("Deno: deno.json imports jsr:@edgews/edgews, linked to the checkout", async () => {
    const project = join(dir, "deno-app");
    mkdirSync(project);
    writeFileSync(
      join(project, "deno.json"),
      JSON.stringify(
        {
          imports: { "@edgews/edgews": `jsr:@edgews/edgews@^${VERSION}` },
          links: [ROOT],
          nodeModulesDir: "manual",
        },
        null,
        2,
      ),
    );
    copyFileSync(PROGRAM, join(project, "main.ts"));
    assertRoundTrip("deno", await run(BIN.deno, [...DENO_ARGS, "main.ts"], project, offline));
  });

  test("Bun: package.json depends on link:@edgews/edgews, bun link-ed from the checkout", async () => {
    const project = join(dir, "bun-app");
    mkdirSync(project);
    const env = {
      ...offline,
      BUN_INSTALL: join(dir, "bun-home"), // where `bun link` registers the checkout
      BUN_INSTALL_CACHE_DIR: join(dir, "bun-cache"),
    };
    const link = await run(BIN.bun, ["link"], ROOT, env);
    assert.equal(link.code, 0, explain("bun link (in the checkout)", link));
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify(
        {
          name: "edgews-consumer",
          private: true,
          dependencies: { "@edgews/edgews": "link:@edgews/edgews" },
        },
        null,
        2,
      ),
    );
    const install = await run(BIN.bun, ["install"], project, env);
    assert.equal(install.code, 0, explain("bun install", install));
    copyFileSync(PROGRAM, join(project, "main.ts"));
    assertRoundTrip("bun", await run(BIN.bun, [...BUN_ARGS, "main.ts"], project, env));
  });

  test("Node: node_modules/@edgews/edgews is a symlink to the checkout", async () => {
    const project = join(dir, "node-app");
    mkdirSync(join(project, "node_modules", "@edgews"), { recursive: true });
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "edgews-consumer", private: true, type: "module" }, null, 2),
    );
    symlinkSync(ROOT, join(project, "node_modules", "@edgews", "edgews"), "dir");
    copyFileSync(PROGRAM, join(project, "main.ts"));
    assertRoundTrip("node", await run(BIN.node, ["main.ts"], project, offline));
  });
});
