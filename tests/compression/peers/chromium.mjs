// node chromium.mjs <url>: headless Chromium (playwright-core, /usr/bin/chromium) opens a
// WebSocket to <url> (browsers always offer permessage-deflate), sends every test message, checks
// each echo, prints one JSON line. Killed with its browser after 100 s.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../../helpers/chromium.mjs";

const url = process.argv[2];
const userDataDir = mkdtempSync(join(tmpdir(), "edgews-chromium-"));
let context;
const finish = async (result, code) => {
  console.log(JSON.stringify(result));
  await context?.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
  process.exit(code);
};
setTimeout(() => finish({ error: "timeout" }, 2), 100_000).unref();
try {
  context = await launchChromium(userDataDir);
  const page = context.pages()[0] ?? await context.newPage();
  const library = readFileSync(new URL("./payloads.mjs", import.meta.url), "utf8")
    .replaceAll("export ", "");
  const result = await page.evaluate(`(async () => {
    ${library}
    const url = ${JSON.stringify(url)};
    return await new Promise((resolve) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      const list = messages();
      const results = [];
      let index = 0;
      ws.onopen = () => ws.send(list[0]);
      ws.onmessage = (event) => {
        const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data);
        const got = fingerprint(data);
        results.push(got === fingerprint(list[index]) ? "ok" : "mismatch " + got);
        if (++index < list.length) ws.send(list[index]);
        else ws.close(1000);
      };
      ws.onclose = (event) => resolve({ extensions: ws.extensions, results, code: event.code });
      ws.onerror = () => {};
    });
  })()`);
  await finish(result, 0);
} catch (error) {
  await finish({ error: String(error) }, 1);
}
