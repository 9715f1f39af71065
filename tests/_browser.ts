/**
 * A real browser for the web console's tests: Debian's Chromium driven by
 * `npm:playwright-core` (headless, a fresh profile, the flags that keep it
 * off the closed network), with screenshots into `test-output/web/`.
 *
 * @module
 */
import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { fileURLToPath } from "node:url";

/** Where screenshots go (gitignored). */
export const SCREENSHOTS = fileURLToPath(new URL("../test-output/web/", import.meta.url));

const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or `undefined`. */
export const BROWSER_SKIP_REASON: string | undefined = await Deno.stat(CHROMIUM).then(
  () => undefined,
  () => `${CHROMIUM} is missing (apt-get install chromium)`,
);

/** A browser profile with its pages; `close()` removes the profile. */
export interface TestBrowser extends AsyncDisposable {
  context: BrowserContext;
  newPage(opts?: { width?: number; height?: number }): Promise<Page>;
  /** Save a screenshot of `page` as test-output/web/NAME.png. */
  shot(page: Page, name: string): Promise<string>;
  /** Console messages that mention the Content-Security-Policy. */
  cspViolations: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "hoop-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const cspViolations: string[] = [];
  context.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  const close = async () => {
    await context.close().catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  return {
    context,
    async newPage(opts = {}) {
      const page = await context.newPage();
      if (opts.width) await page.setViewportSize({ width: opts.width, height: opts.height ?? 800 });
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
      });
      return page;
    },
    async shot(page, name) {
      const path = `${SCREENSHOTS}${name}.png`;
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    cspViolations,
    close,
    [Symbol.asyncDispose]: close,
  };
}
