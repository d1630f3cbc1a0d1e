import { SimulatedClock } from "xstate"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import { ServerSession } from "../src/server/ServerSession.ts"

// Progress rate limit (progress.mdx: "SHOULD rate-limit"): with progressIntervalMs,
// at most one notification per interval; the latest value wins; nothing after the response.
const setup = () => {
  const clock = new SimulatedClock()
  const sent: Array<JsonRpcMessage> = []
  let ctx!: RequestContext
  let finish!: () => void
  const server = new McpServer({ name: "s", version: "1" }).tool({ name: "work" }, (_a, c) => {
    ctx = c
    return new Promise((resolve) => (finish = () => resolve({ content: [{ type: "text", text: "done" }] })))
  })
  const session = new ServerSession(server, { transport: "memory", send: (m) => void sent.push(m), clock, now: () => clock.now(), progressIntervalMs: 100 })
  session.receive({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
  session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
  session.receive({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "work", _meta: { progressToken: "t" } } })
  const progress = () => sent.filter((m) => "method" in m && m.method === "notifications/progress").map((m) => (m as unknown as { params: { progress: number } }).params.progress)
  return { clock, sent, ctx: () => ctx, finish: () => finish(), progress }
}

describe("progress rate limit", () => {
  it("sends the first value at once, then at most one per interval with the latest value", () => {
    const { clock, ctx, progress } = setup()
    for (let i = 1; i <= 50; i++) ctx().progress(i, 100)
    expect(progress()).toEqual([1])
    clock.increment(99)
    expect(progress()).toEqual([1])
    clock.increment(1)
    expect(progress()).toEqual([1, 50])
    ctx().progress(60, 100)
    ctx().progress(70, 100)
    clock.increment(100)
    expect(progress()).toEqual([1, 50, 70])
  })

  it("flushes a held-back value before the response, and nothing follows the response", async () => {
    const { clock, sent, ctx, finish, progress } = setup()
    ctx().progress(1)
    ctx().progress(2)
    finish()
    await new Promise((r) => setTimeout(r, 30)) // the response is held back ~10 ms after progress (SDK interop)
    expect(progress()).toEqual([1, 2])
    const responseAt = sent.findIndex((m) => "id" in m && m.id === 1 && "result" in m)
    const lastProgressAt = sent.findLastIndex((m) => "method" in m && m.method === "notifications/progress")
    expect(responseAt).toBeGreaterThan(lastProgressAt)
    ctx().progress(3)
    clock.increment(500)
    expect(progress()).toEqual([1, 2])
  })
})
