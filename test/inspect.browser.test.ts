/**
 * The inspector's page in a real browser: Debian's `chromium`, headless,
 * driven over the DevTools protocol with `ws` (no puppeteer/playwright). It
 * opens the page with its token, watches an official SDK client's session
 * appear, selects it and sees its chart with the active state highlighted, a
 * slow call in flight and then done, the session's end with its reason, a
 * replay of its record and a step back through it. Screenshots go to
 * `results/inspector/`. `.ci/run` installs chromium.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { makeDemoServer } from "../examples/demo.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync)
const ARTIFACTS = fileURLToPath(new URL("../results/inspector/", import.meta.url))

/** One page of a headless chromium, over the DevTools protocol. */
class Page {
  #id = 0
  readonly #pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  readonly ws: WebSocket
  constructor(ws: WebSocket) {
    this.ws = ws
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } }
      const p = m.id === undefined ? undefined : this.#pending.get(m.id)
      if (p === undefined) return
      this.#pending.delete(m.id!)
      if (m.error) p.reject(new Error(m.error.message))
      else p.resolve(m.result)
    })
  }
  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = ++this.#id
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.ws.send(JSON.stringify({ id, method, params }))
    })
  }
  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true })
    if (r.exceptionDetails) throw new Error(`page threw: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
    return r.result.value as T
  }
  /** Poll the real browser until `expression` is truthy (generous: a busy 2-core machine). */
  async waitFor<T>(expression: string, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = await this.eval<T>(expression)
      if (v) return v
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; page: ${await this.eval<string>("document.body.innerText.slice(0, 800)")}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  async screenshot(name: string): Promise<void> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" })
    mkdirSync(ARTIFACTS, { recursive: true })
    writeFileSync(join(ARTIFACTS, `${name}.png`), Buffer.from(data as string, "base64"))
  }
}

let browser: ChildProcess | undefined
let profile: string | undefined
let page: Page
let http: HttpServerHandle

beforeAll(async () => {
  if (CHROMIUM === undefined) throw new Error("chromium is not installed (Debian: apt-get install chromium; .ci/run does it)")
  http = await makeHttpServer(makeDemoServer(), { port: 0, inspect: true })
  profile = mkdtempSync(join(tmpdir(), "mcp-actors-chromium-"))
  const proc = spawn(CHROMIUM, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "--window-size=1400,900", "about:blank"], { stdio: ["ignore", "ignore", "pipe"] })
  browser = proc
  const endpoint = await new Promise<string>((resolve, reject) => {
    let err = ""
    const t = setTimeout(() => reject(new Error(`chromium did not start: ${err}`)), 60_000)
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString()
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err)
      if (m !== null) (clearTimeout(t), resolve(m[1]!))
    })
    proc.once("exit", (code) => reject(new Error(`chromium exited ${code}: ${err}`)))
  })
  // The page target of about:blank.
  const list = await (await fetch(`http://${new URL(endpoint).host}/json/list`)).json() as Array<{ type: string; webSocketDebuggerUrl: string }>
  const target = list.find((t) => t.type === "page")!
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)))
  page = new Page(ws)
  await page.send("Page.enable")
  await page.send("Runtime.enable")
}, 90_000)

afterAll(async () => {
  await http?.close()
  if (browser !== undefined && browser.exitCode === null) {
    const exited = new Promise((r) => browser!.once("exit", r))
    browser.kill("SIGKILL")
    await exited
  }
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
})

const navigate = async (url: string) => {
  await page.send("Page.navigate", { url })
  await page.waitFor("document.readyState === 'complete'", `${url} loaded`)
}

describe("inspector page in chromium", () => {
  it("refuses the page without its token", async () => {
    await navigate(http.inspector!.origin + "/")
    expect(await page.eval<string>("document.body.innerText")).toContain("needs its token")
  }, 60_000)

  it("shows a live SDK session, its highlighted state, a call in flight, its end, and replays its record", async () => {
    const inspector = http.inspector!
    await navigate(inspector.url)
    await page.waitFor("document.getElementById('status').textContent === 'live'", "the feed connected")
    // The token is taken out of the address bar once read.
    expect(await page.eval<string>("location.search")).toBe("")

    const transport = new StreamableHTTPClientTransport(new URL(http.url))
    const client = new Client({ name: "browser-test-client", version: "4.5.6" })
    await client.connect(transport)
    const row = "document.querySelector('tr.session[data-state=\"operating\"]')"
    await page.waitFor(`${row} && ${row}.innerText.includes('browser-test-client')`, "the session's row")
    const text = await page.eval<string>(`${row}.innerText`)
    expect(text).toContain("legacyServerSession")
    expect(text).toContain("http")
    expect(text).toMatch(/legacy 2025-11-25|legacy 2025-06-18/)

    await page.eval(`${row}.click()`)
    await page.waitFor("document.querySelector('#chart g.node.active[data-state-id=\"legacyServerSession.operating\"]') !== null", "the chart with operating highlighted")
    expect(await page.eval<Array<string>>("[...document.querySelectorAll('#chart g.node.active')].map(g => g.getAttribute('data-state-id'))")).toEqual(["legacyServerSession.operating"])
    expect(await page.eval<number>("document.querySelectorAll('#chart g.node').length")).toBeGreaterThan(4)
    await page.screenshot("1-session-selected")

    const slow = client.callTool({ name: "slow", arguments: { ms: 3_000 } })
    await page.waitFor("[...document.querySelectorAll('#inflight tr[data-request]')].some(tr => tr.innerText.includes('tools/call'))", "the call in flight")
    // Between requests the HTTP session hibernates (its actor stops); it is still the same live session.
    // (The runtime's root and the HTTP listener, its tree's other nodes, have rows of their own.)
    const sessionRows = "tr.session[data-machine=\"legacyServerSession\"]"
    expect(await page.eval<number>(`document.querySelectorAll('${sessionRows}').length`)).toBe(1)
    expect(await page.eval<string>(`document.querySelector('${sessionRows} td.end').innerText`)).toBe("")
    await page.screenshot("2-call-in-flight")
    await slow
    await page.waitFor("document.getElementById('inflight').innerText.trim() === 'none'", "the call done")

    await transport.terminateSession()
    await client.close()
    const ended = "document.querySelector('tr.session.ended td.end')"
    await page.waitFor(`${ended} && ${ended}.innerText.includes('terminated by the client (DELETE)')`, "the session's end and reason")
    await page.screenshot("3-session-ended")

    await page.eval("document.getElementById('replay').click()")
    const verdict = await page.waitFor<string>("document.getElementById('replay-verdict')?.innerText", "the replay verdict")
    expect(verdict).toMatch(/^agrees with the record \(\d+ events\)$/)

    // Time travel: back to the first recorded step, the chart shows the state of then.
    await page.eval("document.getElementById('step').click()")
    await page.waitFor("document.getElementById('travel-range') !== null", "the record stepper")
    await page.eval("(() => { const r = document.getElementById('travel-range'); r.value = '1'; r.dispatchEvent(new Event('input')) })()")
    await page.waitFor("document.querySelector('#chart g.node.active[data-state-id=\"legacyServerSession.awaitingInitialized\"]') !== null", "the step's state highlighted")
    expect(await page.eval<string>("document.getElementById('travel-at').innerText")).toContain("INITIALIZE")
    await page.screenshot("4-time-travel")
  }, 120_000)
})

describe("inspector page in chromium: pending approvals (--approver inspector)", () => {
  it("lists a call awaiting approval in the panel; its Approve button lets the call through and the row leaves", async () => {
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
      approver
    })
    const gated = await makeHttpServer(server, { port: 0, inspect: { approver } })
    const client = new Client({ name: "approval-browser-client", version: "1.0.0" })
    try {
      await navigate(gated.inspector!.url)
      await page.waitFor("document.getElementById('status').textContent === 'live'", "the feed connected")
      expect(await page.eval<boolean>("document.getElementById('approvals').hidden")).toBe(true)
      await client.connect(new StreamableHTTPClientTransport(new URL(gated.url)))
      const call = client.callTool({ name: "deploy", arguments: { env: "prod" } })
      const row = "document.querySelector('#approval-rows tr.approval')"
      await page.waitFor(`${row} && ${row}.innerText.includes('deploy')`, "the pending approval's row")
      const text = await page.eval<string>(`${row}.innerText`)
      expect(text).toContain("anonymous")
      expect(text).toContain("ops")
      expect(text).not.toContain("prod") // the digest, not the values, without secrets shown
      expect(await page.eval<boolean>("document.getElementById('approvals').hidden")).toBe(false)
      await page.screenshot("5-pending-approval")
      await page.eval(`${row}.querySelector('button[data-answer="approve"]').click()`)
      expect(await call).toMatchObject({ content: [{ text: "deployed" }] })
      await page.waitFor("document.querySelector('#approval-rows tr.approval') === null && document.getElementById('approvals').hidden", "the row gone")
    } finally {
      await client.close()
      await gated.close({ drainMs: 0 })
      approvals.close()
    }
  }, 120_000)
})
