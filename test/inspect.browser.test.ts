/**
 * The inspector's page in a real browser: Debian's `chromium` (`.ci/run`
 * installs it), headless, driven by `playwright-core` (test/support/chromium.ts).
 *
 * - It opens the page with its token, watches an official SDK client's session
 *   appear, selects it and sees its chart with the active state highlighted, a
 *   slow call in flight and then done, the session's end with its reason, a
 *   replay of its record, a download of the record and a step back through it;
 *   its last transitions, in order, with their times; nothing secret shown.
 * - A raw client's handshake, one POST at a time: the open chart's highlight
 *   follows the live state (`awaitingInitialized`, then `operating`).
 * - "Ended with an error": mcp-actors' own client, whose session the server
 *   lost, is listed with its reason; the server's cleanly ended side is hidden.
 * - It refuses the page and its feed without the token (or with a wrong one),
 *   a page of a foreign Origin that has the token, and a foreign Host (DNS
 *   rebinding), as a browser would meet them.
 * - `--approver inspector`: a pending approval on the page, approved by a click;
 *   with `showSecrets`, the page says so and shows the argument values and the
 *   whole session ids (redacted otherwise).
 * - `npm start`, the tour: both URLs printed, the page opened as printed shows a
 *   live session.
 *
 * Every wait is Playwright's auto-waiting on the page (locators, waitForEvent),
 * with generous limits: a real browser on a busy 2-core machine. Screenshots
 * go to `test-artifacts/inspector/`.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import { SessionLost } from "../src/protocol/requestErrors.ts"
import { parseRecord, replayRecord } from "../src/inspect/replay.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"
import { ARTIFACTS, launchChromium, screenshot, withPage } from "./support/chromium.ts"
import { eventually, groupMembers } from "./support/processes.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
// A name the browser resolves to 127.0.0.1: a foreign site (its own Origin) that reaches the inspector
// locally, and a DNS-rebinding name for the inspector's own port.
const FOREIGN = "attacker.example"

let browser: Browser
let http: HttpServerHandle
/** The demo server's tools, plus one that answers when the test says so: "slow", on the test's cue. */
let releaseHeld: () => void = () => {}

beforeAll(async () => {
  const server = makeDemoServer().tool(
    { name: "held", description: "Answer when the test releases it", inputSchema: { type: "object", properties: { note: { type: "string" } } } },
    () => new Promise((resolve) => { releaseHeld = () => resolve({ content: [{ type: "text", text: "released" }] }) })
  )
  http = await makeHttpServer(server, { port: 0, inspect: true })
  browser = await launchChromium({ args: [`--host-resolver-rules=MAP ${FOREIGN} 127.0.0.1`] })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await http?.close()
})

/** Open the feed from the page's own origin; what the browser saw: whether it opened, and the handshake's error. */
const tryFeed = async (page: Page, url: string): Promise<{ opened: boolean; error: string }> => {
  const socket = page.waitForEvent("websocket", (ws) => ws.url() === url)
  const opened = page.evaluate<boolean, string>((u) => new Promise((resolve) => {
    const ws = new WebSocket(u)
    ws.onopen = () => (ws.close(), resolve(true))
    ws.onclose = () => resolve(false)
  }), url)
  const ws = await socket
  const error = new Promise<string>((resolve) => {
    ws.on("socketerror", resolve)
    ws.on("close", () => resolve(""))
    if (ws.isClosed()) resolve("")
  })
  return { opened: await opened, error: await error }
}

/** The selected session's "Last transitions" table as the page shows it: `[time, event, state]` per row, newest first. */
const transitionRows = (page: Page): Promise<Array<Array<string>>> =>
  page.locator("#transitions tr:has(td)").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")))

const DAY = 86_400_000
/** A time the page shows (`HH:MM:SS.mmm`, UTC), as ms since midnight UTC. */
const msOfDay = (shown: string): number => {
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(shown)
  expect(m, `a time: ${JSON.stringify(shown)}`).not.toBeNull()
  const [h, min, sec, ms] = m!.slice(1).map(Number) as [number, number, number, number]
  return ((h * 60 + min) * 60 + sec) * 1000 + ms
}
/** That a time the page shows is within [since, until] (wall-clock ms; compared modulo a day: a run across midnight UTC passes). */
const expectShownWithin = (shown: string, since: number, until: number): void => {
  const offset = (((msOfDay(shown) - (since % DAY)) % DAY) + DAY) % DAY
  expect(offset, `${shown} within ${new Date(since).toISOString()}…${new Date(until).toISOString()}`).toBeLessThanOrEqual(until - since)
}
/** The rows' times: each parses and lies within [since, until], and none is later than the one above it (newest first). */
const expectTimesInOrder = (rows: ReadonlyArray<ReadonlyArray<string>>, since: number, until: number): void => {
  for (const r of rows) expectShownWithin(r[0]!, since, until)
  for (let i = 1; i < rows.length; i++) {
    const newer = (((msOfDay(rows[i - 1]![0]!) - msOfDay(rows[i]![0]!)) % DAY) + DAY) % DAY
    expect(newer, `row ${i - 1} is not older than row ${i}: ${JSON.stringify(rows)}`).toBeLessThanOrEqual(until - since)
  }
}

/** The handshake in the transitions table: `INITIALIZE → awaitingInitialized`, then (above it, newer) `INITIALIZED → operating`. */
const expectHandshake = (transitions: ReadonlyArray<ReadonlyArray<string>>): void => {
  const steps = transitions.map(([, event, state]) => `${event} → ${state}`)
  const initialize = steps.indexOf("INITIALIZE → awaitingInitialized")
  const initialized = steps.indexOf("INITIALIZED → operating")
  expect(initialize, JSON.stringify(transitions)).toBeGreaterThanOrEqual(0)
  expect(initialized, JSON.stringify(transitions)).toBeGreaterThanOrEqual(0)
  expect(initialized, JSON.stringify(transitions)).toBeLessThan(initialize)
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A raw Streamable HTTP client of the test's server, one POST at a time (a test driver: the SDK client is the real one). */
const rawPost = async (url: string, body: object, sessionId?: string): Promise<Response> => {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" })
    },
    body: JSON.stringify(body)
  })
  await res.text()
  return res
}

describe("inspector page in chromium", () => {
  it("refuses the page and its feed without the token, or with a wrong one (401)", () => withPage(browser, "refused-token", async (page) => {
    const inspector = http.inspector!
    const bare = await page.goto(inspector.origin + "/")
    expect(bare!.status()).toBe(401)
    expect(await page.locator("body").innerText()).toContain("needs its token")
    const wrong = await page.goto(inspector.origin + "/?token=" + "0".repeat(inspector.token.length))
    expect(wrong!.status()).toBe(401)
    expect(await page.locator("body").innerText()).toContain("wrong inspector token")
    await screenshot(page, "0-no-token")

    // From the inspector's own origin: the feed and the API without the token are refused too…
    const feed = `ws://${new URL(inspector.origin).host}/feed`
    // (chromium words a 401 handshake "HTTP Authentication failed".)
    expect(await tryFeed(page, feed)).toEqual({ opened: false, error: expect.stringMatching(/HTTP Authentication failed|401/) })
    expect(inspector.clients).toBe(0)
    expect(await page.evaluate<number>("fetch('/actors').then((r) => r.status)")).toBe(401)
    // …and pass with it: what refused them was the token.
    expect(await page.evaluate<number, string>((t) => fetch("/actors", { headers: { authorization: "Bearer " + t } }).then((r) => r.status), inspector.token)).toBe(200)
    expect(await tryFeed(page, `${feed}?token=${inspector.token}`)).toEqual({ opened: true, error: "" })
    // An approval's answer: refused without the token; with it, it reaches the handler (this inspector answers none: 404).
    const post = (headers: Record<string, string>) =>
      page.evaluate<number, Record<string, string>>((h) => fetch("/approvals/some-id", { method: "POST", headers: h, body: "{\"approved\":true}" }).then((r) => r.status), headers)
    expect(await post({})).toBe(401)
    expect(await post({ authorization: `Bearer ${inspector.token}` })).toBe(404)
  }), 60_000)

  it("refuses a foreign Origin that has the token, and a foreign Host (DNS rebinding): 403", async () => {
    const inspector = http.inspector!
    const site: Server = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><h1>elsewhere</h1>"))
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve))
    try {
      await withPage(browser, "refused-origin", async (page) => {
        const siteUrl = `http://${FOREIGN}:${(site.address() as AddressInfo).port}/`
        expect((await page.goto(siteUrl))!.status()).toBe(200)
        // A page elsewhere that knows the token still cannot follow the feed (the WebSocket sends its Origin)…
        const feed = `ws://${new URL(inspector.origin).host}/feed?token=${inspector.token}`
        expect(await tryFeed(page, feed)).toEqual({ opened: false, error: expect.stringContaining("403") })
        expect(inspector.clients).toBe(0)
        // …nor answer an approval: the POST carries the page's Origin and the server refuses it (403), whatever
        // the browser's CORS would let the page read. (A no-cors GET carries no Origin; its answer is opaque to the page.)
        const answer = `${inspector.origin}/approvals/some-id?token=${inspector.token}`
        const refused = page.waitForResponse(answer)
        expect(await page.evaluate<string, string>((u) => fetch(u, { method: "POST", mode: "no-cors", body: "{\"approved\":true}" }).then((r) => r.type), answer)).toBe("opaque")
        expect((await refused).status()).toBe(403)
        await screenshot(page, "0-foreign-origin")
        // A rebinding name for the inspector's own port: its Host is refused before the token is looked at.
        const rebound = await page.goto(`http://${FOREIGN}:${new URL(inspector.origin).port}/?token=${inspector.token}`)
        expect(rebound!.status()).toBe(403)
        expect(await page.locator("body").innerText()).toContain(`Host "${FOREIGN}:`)
      })
    } finally {
      await new Promise((resolve) => site.close(resolve))
    }
  }, 60_000)

  it("shows a live SDK session, its highlighted state, a call in flight, its end, and replays its record", () => withPage(browser, "tour", async (page) => {
    const inspector = http.inspector!
    expect((await page.goto(inspector.url))!.status()).toBe(200)
    await page.locator("#status", { hasText: /^live$/ }).waitFor()
    // The token is taken out of the address bar once read.
    expect(await page.evaluate<string>("location.search")).toBe("")

    const transport = new StreamableHTTPClientTransport(new URL(http.url))
    const client = new Client({ name: "browser-test-client", version: "4.5.6" })
    const connectedFrom = Date.now()
    await client.connect(transport)
    const row = page.locator("tr.session[data-state=\"operating\"]", { hasText: "browser-test-client" })
    const text = await row.innerText()
    expect(text).toContain("legacyServerSession")
    expect(text).toContain("http")
    expect(text).toMatch(/legacy 2025-11-25|legacy 2025-06-18/)
    expect(text).toContain("browser-test-client 4.5.6")
    // Nothing secret by default: the page says so, and the row's id is the HTTP session id (a bearer) cut short.
    expect(await page.locator("#secrets").innerText()).toBe("secrets redacted")
    const httpSessionId = transport.sessionId!
    expect(text).toContain(httpSessionId.slice(0, 8) + "…")
    expect(await page.locator("#rows").innerText()).not.toContain(httpSessionId)

    // The filters (issue 11: by state, era, transport): each hides the row when it does not match, shows it when it does.
    const matching = page.locator("tr.session", { hasText: "browser-test-client" })
    const filtered = async (id: string, value: string, shown: boolean) => {
      if (id === "f-state") await page.fill("#f-state", value)
      else await page.selectOption(`#${id}`, value)
      await (shown ? matching.waitFor() : matching.waitFor({ state: "detached" }))
      expect(await matching.count()).toBe(shown ? 1 : 0)
    }
    await filtered("f-era", "modern", false)
    await filtered("f-era", "legacy", true)
    await filtered("f-era", "", true)
    await filtered("f-transport", "ws", false)
    await filtered("f-transport", "http", true)
    await filtered("f-transport", "", true)
    await filtered("f-state", "closing", false)
    await filtered("f-state", "operating", true)
    await filtered("f-state", "", true)

    await row.click()
    await page.locator("#chart g.node.active[data-state-id=\"legacyServerSession.operating\"]").waitFor({ state: "attached" })
    expect(await page.locator("#chart g.node.active").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-state-id")))).toEqual(["legacyServerSession.operating"])
    expect(await page.locator("#chart g.node").count()).toBeGreaterThan(4)
    // Its last transitions, newest first, each with its time, its event and the state it led to: the handshake.
    const transitions = await transitionRows(page)
    expectHandshake(transitions)
    expectTimesInOrder(transitions, connectedFrom, Date.now())
    await screenshot(page, "1-session-selected")

    // A slow call, answered when the page has shown it in flight.
    const slow = client.callTool({ name: "held", arguments: { note: "browser-secret-argument" } })
    const inflight = page.locator("#inflight tr[data-request]", { hasText: "tools/call" })
    expect(await inflight.innerText()).toMatch(/tools\/call\s+\d+(\.\d)? (ms|s)/)
    // Between requests the HTTP session hibernates (its actor stops); it is still the same live session.
    // (The runtime's root and the HTTP listener, its tree's other nodes, have rows of their own.)
    // (The inspector sees every session of the process: other tests' sessions may be listed too.)
    const sessionRows = page.locator("tr.session[data-machine=\"legacyServerSession\"]", { hasText: "browser-test-client" })
    expect(await sessionRows.count()).toBe(1)
    expect(await sessionRows.locator("td.end").innerText()).toBe("")
    // The list shows it too, with the age of the oldest request.
    expect(await sessionRows.innerText()).toMatch(/\b1 \(oldest \d+(\.\d)? (ms|s)\)/)
    expect(await page.locator("#rows").innerText()).not.toContain("browser-secret-argument")
    await screenshot(page, "2-call-in-flight")
    releaseHeld()
    expect(await slow).toMatchObject({ content: [{ text: "released" }] })
    await page.locator("#inflight", { hasText: /^\s*none\s*$/ }).waitFor()

    await transport.terminateSession()
    await client.close()
    await page.locator("tr.session.ended td.end", { hasText: "terminated by the client (DELETE)" }).waitFor()
    // "ended with an error": a session its client closed ended cleanly, so the filter hides it.
    await page.check("#f-error")
    await page.locator("tr.session.ended", { hasText: "terminated by the client (DELETE)" }).waitFor({ state: "detached" })
    await page.uncheck("#f-error")
    await page.locator("tr.session.ended td.end", { hasText: "terminated by the client (DELETE)" }).waitFor()
    await screenshot(page, "3-session-ended")

    await page.locator("#replay").click()
    expect(await page.locator("#replay-verdict").innerText()).toMatch(/^agrees with the record \(\d+ events\)$/)
    expect(await page.locator("#replay-box").innerText()).toContain("ended: terminated by the client (DELETE)")

    // The record, downloaded from the page: a file `mcp-actors replay` accepts, with the argument's value redacted.
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#download").click()])
    expect(download.suggestedFilename()).toMatch(/^record-legacyServerSession-\w+\.json$/)
    const saved = join(ARTIFACTS, "record.json")
    await download.saveAs(saved)
    const recordText = readFileSync(saved, "utf8")
    expect(recordText).not.toContain("browser-secret-argument")
    expect(JSON.parse(recordText)).toMatchObject({ id: httpSessionId.slice(0, 8) + "…", redacted: true })
    expect(recordText).not.toContain(httpSessionId)
    const replayed = replayRecord(parseRecord(recordText))
    expect(replayed.divergence).toBeUndefined()
    expect(replayed.ended).toContain("terminated by the client (DELETE)")

    // Time travel: back to the first recorded step, the chart shows the state of then.
    await page.locator("#step").click()
    await page.locator("#travel-range").fill("1")
    await page.locator("#chart g.node.active[data-state-id=\"legacyServerSession.awaitingInitialized\"]").waitFor({ state: "attached" })
    expect(await page.locator("#travel-at").innerText()).toContain("INITIALIZE")
    await screenshot(page, "4-time-travel")
  }), 120_000)

  it("moves the highlight as a session's state changes while its chart is open (a raw client's handshake, step by step)", () => withPage(browser, "live-highlight", async (page) => {
    await page.goto(http.inspector!.url)
    await page.locator("#status", { hasText: /^live$/ }).waitFor()
    const from = Date.now()
    // `initialize` alone: the session waits for `notifications/initialized`.
    const init = await rawPost(http.url, {
      jsonrpc: "2.0", id: 1, method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw-fetch-client", version: "0.0.1" } }
    })
    expect(init.status).toBe(200)
    const sessionId = init.headers.get("mcp-session-id")!
    expect(sessionId).toBeTruthy()
    try {
      const row = page.locator("tr.session[data-state=\"awaitingInitialized\"]", { hasText: "raw-fetch-client 0.0.1" })
      const selected = await row.getAttribute("data-session")
      await row.click()
      const active = page.locator("#chart g.node.active")
      await page.locator("#chart g.node.active[data-state-id=\"legacyServerSession.awaitingInitialized\"]").waitFor({ state: "attached" })
      expect(await active.evaluateAll((gs) => gs.map((g) => g.getAttribute("data-state-id")))).toEqual(["legacyServerSession.awaitingInitialized"])
      expect((await transitionRows(page)).map(([, event, state]) => `${event} → ${state}`)).toEqual(["INITIALIZE → awaitingInitialized"])
      await screenshot(page, "7-live-awaiting-initialized")

      // The next step, with the chart left open: the highlight follows without reselecting.
      const initializedFrom = Date.now()
      expect((await rawPost(http.url, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId)).status).toBe(202)
      await page.locator("#chart g.node.active[data-state-id=\"legacyServerSession.operating\"]").waitFor({ state: "attached" })
      expect(await active.evaluateAll((gs) => gs.map((g) => g.getAttribute("data-state-id")))).toEqual(["legacyServerSession.operating"])
      // The same session, still selected, its chart the same one (not drawn again for a new selection).
      expect(await page.locator("#detail").getAttribute("data-session")).toBe(selected)
      expect(await page.locator("tr.session.selected").getAttribute("data-state")).toBe("operating")
      const transitions = await transitionRows(page)
      expectHandshake(transitions)
      const until = Date.now()
      expectTimesInOrder(transitions, from, until)
      // Each time is its transition's: `initialize` before the notification was posted, `initialized` after.
      const at = (step: string) => transitions.find(([, event, state]) => `${event} → ${state}` === step)![0]!
      expectShownWithin(at("INITIALIZE → awaitingInitialized"), from, initializedFrom)
      expectShownWithin(at("INITIALIZED → operating"), initializedFrom, until)
      await screenshot(page, "8-live-operating")
    } finally {
      await fetch(http.url, { method: "DELETE", headers: { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" } })
    }
  }), 60_000)

  it("\"ended with an error\": the filter lists a session that ended with one, with its reason, and hides one that ended cleanly", () => withPage(browser, "error-filter", async (page) => {
    await page.goto(http.inspector!.url)
    await page.locator("#status", { hasText: /^live$/ }).waitFor()
    // mcp-actors' own client (a session of this process too), told not to re-initialize: when the server loses its
    // session, it ends, unexpectedly. The server's side of it ends cleanly: its client terminated it (DELETE).
    const client = await connectHttp(http.url, { reinitialize: false, standaloneStream: false, clientInfo: { name: "error-filter-client", version: "1.0.0" } })
    try {
      const sessionId = client.sessionId!
      const deleted = await fetch(http.url, { method: "DELETE", headers: { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" } })
      expect(deleted.status).toBe(200)
      expect(await client.callTool("echo", { text: "anyone?" }).catch((e: unknown) => e)).toBeInstanceOf(SessionLost)
      const end = await client.ended
      expect(end.expected).toBe(false)
      expect(end.reason).toMatch(/lost the session/)
      // Both ends listed: the server's session, ended cleanly, and the client's, ended with an error (marked so).
      const clean = page.locator("tr.session.ended[data-machine=\"legacyServerSession\"]", { hasText: "error-filter-client 1.0.0" })
      await clean.locator("td.end", { hasText: "terminated by the client (DELETE)" }).waitFor()
      expect(await clean.getAttribute("class")).not.toContain("failed")
      const failed = page.locator("tr.session.ended.failed[data-machine=\"httpClientSession\"]")
      expect(await failed.locator("td.end").innerText()).toBe(end.reason)
      expect(await failed.innerText()).toMatch(/\bclient\s+http\b/)

      // The filter on: the session that ended with an error stays, with its reason; the clean one leaves,
      // and so does every row that did not end with an error (the live ones too).
      await page.check("#f-error")
      await clean.waitFor({ state: "detached" })
      expect(await failed.count()).toBe(1)
      expect(await failed.locator("td.end").innerText()).toBe(end.reason)
      expect(await page.locator("tr.session:not(.failed)").count()).toBe(0)
      // Selected: its detail says how it ended, and that it was an error.
      await failed.click()
      expect(await page.locator("#detail dd[data-fact=\"ended\"]").innerText()).toMatch(new RegExp(`^${escapeRegExp(end.reason)} \\(error\\) at \\d\\d:\\d\\d:\\d\\d\\.\\d{3}$`))
      await screenshot(page, "9-ended-with-an-error")
      await page.uncheck("#f-error")
      await clean.waitFor()
    } finally {
      await client.close()
    }
  }), 60_000)
})

describe("inspector page in chromium: pending approvals (--approver inspector)", () => {
  /** A server whose `deploy` needs approval, answered on the inspector's page; its arguments are recorded (`--audit-arguments`). */
  const gatedServer = async (inspect: { readonly showSecrets?: boolean } = {}) => {
    const { McpServer } = await import("../src/server/McpServer.ts")
    const { policyGuard } = await import("../src/server/policyGuard.ts")
    const { Policy } = await import("../src/policy/Policy.ts")
    const { PolicyEngine } = await import("../src/policy/PolicyEngine.ts")
    const { Approvals } = await import("../src/policy/Approvals.ts")
    const { ApprovalStore } = await import("../src/policy/ApprovalStore.ts")
    const { InspectorApprover } = await import("../src/inspect/inspectorApprover.ts")
    const approver = new InspectorApprover()
    const approvals = new Approvals({ store: ApprovalStore.open() })
    const server = new McpServer({ name: "ops", version: "1.0.0" }).tool({ name: "deploy" }, () => ({ content: [{ type: "text", text: "deployed" }] }))
    server.guard = policyGuard({
      engine: new PolicyEngine(Policy.parse("default: deny\nrules:\n  - { id: deploy-approval, tool: deploy, effect: approve, approvalTimeout: 60s }\n", "p.yaml")),
      server: "ops",
      approvals,
      approver,
      // The values reach the approver: only the page's redaction keeps them off it by default.
      auditArguments: true
    })
    const gated = await makeHttpServer(server, { port: 0, inspect: { ...inspect, approver } })
    return { gated, close: async () => (await gated.close({ drainMs: 0 }), approvals.close()) }
  }

  it("lists a call awaiting approval in the panel; its Approve button lets the call through and the row leaves", async () => {
    const { gated, close } = await gatedServer()
    const client = new Client({ name: "approval-browser-client", version: "1.0.0" })
    try {
      await withPage(browser, "approval", async (page) => {
        await page.goto(gated.inspector!.url)
        await page.locator("#status", { hasText: /^live$/ }).waitFor()
        expect(await page.locator("#approvals").isHidden()).toBe(true)
        await client.connect(new StreamableHTTPClientTransport(new URL(gated.url)))
        const call = client.callTool({ name: "deploy", arguments: { env: "prod" } })
        const row = page.locator("#approval-rows tr.approval", { hasText: "deploy" })
        const text = await row.innerText()
        expect(text).toContain("anonymous")
        expect(text).toContain("ops")
        expect(text).not.toContain("prod") // the digest, not the values, without secrets shown
        expect(await row.locator("td[title=\"argument digest\"]").innerText()).toMatch(/^[0-9a-f]{16}…$/)
        expect(await page.locator("#secrets").innerText()).toBe("secrets redacted")
        expect(await page.locator("#approvals").isVisible()).toBe(true)
        await screenshot(page, "5-pending-approval")
        await row.locator("button[data-answer=\"approve\"]").click()
        expect(await call).toMatchObject({ content: [{ text: "deployed" }] })
        await page.locator("#approval-rows tr.approval").waitFor({ state: "detached" })
        await page.locator("#approvals").waitFor({ state: "hidden" })
      })
    } finally {
      await client.close()
      await close()
    }
  }, 120_000)

  it("showSecrets (opt-in): the page says secrets are shown, and shows an argument's value and the whole session id, also in the record it downloads", async () => {
    const { gated, close } = await gatedServer({ showSecrets: true })
    const client = new Client({ name: "secrets-browser-client", version: "1.0.0" })
    const transport = new StreamableHTTPClientTransport(new URL(gated.url))
    try {
      await withPage(browser, "secrets-shown", async (page) => {
        await page.goto(gated.inspector!.url)
        await page.locator("#secrets", { hasText: /^secrets shown$/ }).waitFor()
        await client.connect(transport)
        const call = client.callTool({ name: "deploy", arguments: { env: "prod-secret-4711" } })
        const approval = page.locator("#approval-rows tr.approval", { hasText: "deploy" })
        expect(await approval.locator("td[title=\"argument digest\"]").innerText()).toBe("{\"env\":\"prod-secret-4711\"}")
        // The session's row: its whole HTTP session id (a bearer), not cut short.
        const httpSessionId = transport.sessionId!
        const row = page.locator("tr.session[data-machine=\"legacyServerSession\"]", { hasText: "secrets-browser-client" })
        expect((await row.locator("td").first().innerText()).split(" ")[0]).toBe(httpSessionId)
        expect(await page.locator("#approval-rows").innerText()).toContain(httpSessionId)
        await screenshot(page, "10-secrets-shown")
        await approval.locator("button[data-answer=\"approve\"]").click()
        expect(await call).toMatchObject({ content: [{ text: "deployed" }] })
        // The session's record, downloaded from the page: unredacted, under the whole session id.
        // (Tool arguments never enter a session's record: once `operating`, requests bypass its chart.)
        await row.click()
        const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#download").click()])
        const saved = join(ARTIFACTS, "record-secrets-shown.json")
        await download.saveAs(saved)
        expect(JSON.parse(readFileSync(saved, "utf8"))).toMatchObject({ machine: "legacyServerSession", id: httpSessionId, redacted: false })
      })
    } finally {
      await client.close()
      await close()
    }
  }, 120_000)
})

describe("npm start in chromium: the tour", () => {
  it("prints the server's URL and the inspector's; the page opened as printed shows an SDK session live", async () => {
    // Its own process group, so nothing it started outlives the test.
    const npm = spawn("npm", ["start"], { cwd: root, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"], detached: true })
    const pgid = npm.pid!
    let out = ""
    let err = ""
    const urls = new Promise<{ mcp: string; page: string }>((resolve, reject) => {
      const seen = () => {
        const mcp = /^(http:\/\/127\.0\.0\.1:\d+\/mcp)$/m.exec(out)
        const page = /^mcp-actors: inspector on (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48})$/m.exec(err)
        // The "serving" line on stderr may come after both URLs: it is asserted on, so it is awaited too.
        if (mcp !== null && page !== null && err.includes("mcp-actors: serving ")) resolve({ mcp: mcp[1]!, page: page[1]! })
      }
      npm.stdout!.on("data", (d: Buffer) => ((out += d.toString()), seen()))
      npm.stderr!.on("data", (d: Buffer) => ((err += d.toString()), seen()))
      npm.once("exit", (code) => reject(new Error(`npm start exited ${code}: ${out}${err}`)))
    })
    const client = new Client({ name: "tour-client", version: "1.0.0" })
    try {
      const { mcp, page: pageUrl } = await urls
      expect(err).toContain(`mcp-actors: serving Streamable HTTP on ${mcp}`)
      await withPage(browser, "npm-start", async (page) => {
        expect((await page.goto(pageUrl))!.status()).toBe(200)
        await page.locator("#status", { hasText: /^live$/ }).waitFor()
        await client.connect(new StreamableHTTPClientTransport(new URL(mcp)))
        expect(await client.callTool({ name: "echo", arguments: { text: "hello" } })).toMatchObject({ content: [{ text: "hello" }] })
        const row = page.locator("tr.session[data-machine=\"legacyServerSession\"]", { hasText: "tour-client" })
        const text = await row.innerText()
        expect(text).toContain("tour-client 1.0.0")
        expect(text).toContain("http")
        await screenshot(page, "6-npm-start")
      })
      await client.close()
      process.kill(-pgid, "SIGTERM")
      expect(await eventually(() => groupMembers(pgid).length === 0, 30_000), `left running: ${groupMembers(pgid).join(", ")}`).toBe(true)
    } finally {
      await client.close()
      try { process.kill(-pgid, "SIGKILL") } catch { /* gone */ }
    }
  }, 120_000)
})
