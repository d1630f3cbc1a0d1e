/**
 * A real browser for the inspector's page tests: Debian's `chromium` (which
 * `.ci/run` installs with apt), headless, driven by `playwright-core`. Playwright
 * downloads no browser of its own here: it launches the system binary.
 *
 * Screenshots (the test's artifacts, and one on every failure) go to
 * `test-artifacts/inspector/` (gitignored).
 */
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, type BrowserContext, chromium, type LaunchOptions, type Page } from "playwright-core"

/** `CHROMIUM` if set, else Debian's path (`apt-get install chromium`), else Ubuntu's older name. */
export const chromiumPath = (): string => {
  const path = [process.env["CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p !== undefined && p !== "" && existsSync(p))
  if (path === undefined) throw new Error("chromium is not installed (Debian: apt-get install chromium; .ci/run does it), or set CHROMIUM=/path/to/chromium")
  return path
}

export const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/inspector/", import.meta.url))

/** Launch headless chromium. Waits in these tests are against a real browser on a busy machine: generous. */
export const launchChromium = (options: Pick<LaunchOptions, "args"> = {}): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath(), headless: true, timeout: 90_000, ...options })

/** Save a screenshot of `page` as `test-artifacts/inspector/NAME.png`. */
export const screenshot = async (page: Page, name: string): Promise<void> => {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/**
 * Run `body` with a fresh page in its own context (no token or storage left from
 * another test). On a failure the page is saved as `NAME-failure.png` first.
 */
export const withPage = async <A>(browser: Browser, name: string, body: (page: Page, context: BrowserContext) => Promise<A>): Promise<A> => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true })
  context.setDefaultTimeout(30_000)
  const page = await context.newPage()
  try {
    return await body(page, context)
  } catch (e) {
    await screenshot(page, `${name}-failure`).catch(() => undefined)
    throw e
  } finally {
    await context.close()
  }
}
