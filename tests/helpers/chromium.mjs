// Launching Debian's Chromium for the browser tests, the one way every test does it: headless,
// through playwright-core (never a downloaded browser), with the flags this sandboxed machine
// needs (no sandbox as root, no GPU, no QUIC, and no background networking, which the closed
// network here would refuse), in a profile directory of the caller's.
import { chromium } from "playwright-core";

/** Chromium's command-line flags for these tests. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Starts Chromium with a fresh persistent profile in `userDataDir`. */
export function launchChromium(
  userDataDir,
  { executablePath = "/usr/bin/chromium", timeout } = {},
) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    ...(timeout === undefined ? {} : { timeout }),
  });
}
