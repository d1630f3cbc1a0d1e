import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { defaultProgressBarrier, PROGRESS_BARRIER_TIMEOUT_MS } from "../src/server/progressBarrier.ts"
import type { ServerSessionOptions } from "../src/server/ServerSession.ts"
import { progressCall } from "./support/progressCall.ts"

// The SDK-progress workaround (typescript-sdk#2580): after a request's last progress notification,
// the response waits for a ping round trip instead of a wall-clock delay. On a simulated clock.
const setup = (options: Partial<ServerSessionOptions> = {}, clientName = "some-sdk-app") => {
  const t = progressCall({ transport: "stdio", ...options }, clientName)
  const response = () => t.sent.find((m) => "id" in m && m.id === 1 && !("method" in m))
  const pings = () => t.sent.filter((m): m is Extract<JsonRpcMessage, { method: string; id: unknown }> => "method" in m && m.method === "ping" && "id" in m)
  return { ...t, response, pings }
}
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("progress barrier", () => {
  it("a response after progress waits for the pong to a ping sent after the last progress", async () => {
    const t = setup()
    t.ctx().progress(1, 2)
    t.ctx().progress(2, 2)
    t.finish()
    await turn()
    expect(t.response()).toBeUndefined()
    expect(t.pings()).toHaveLength(1)
    expect(t.sent.indexOf(t.pings()[0]!)).toBeGreaterThan(t.sent.findLastIndex((m) => "method" in m && m.method === "notifications/progress"))
    expect(t.session.inFlightCount).toBe(1) // still in flight: a drain waits for it, a cancel still wins
    t.session.receive({ jsonrpc: "2.0", id: t.pings()[0]!.id, result: {} })
    await turn()
    expect(t.response()).toMatchObject({ result: { content: [{ text: "done" }] } })
    expect(t.session.inFlightCount).toBe(0)
  })

  it("a client that never answers gets the response at the barrier deadline, on the session's clock", async () => {
    const t = setup()
    t.ctx().progress(1)
    t.finish()
    await turn()
    t.clock.increment(PROGRESS_BARRIER_TIMEOUT_MS - 1)
    await turn()
    expect(t.response()).toBeUndefined()
    t.clock.increment(1)
    await turn()
    expect(t.response()).toBeDefined()
  })

  it("no barrier without progress, for clients known to be unaffected, or when the policy says no", async () => {
    const none = setup()
    none.finish()
    await turn()
    expect(none.response()).toBeDefined()
    expect(none.pings()).toEqual([])
    for (const t of [setup({}, "mcp-actors"), setup({ progressBarrier: () => false }), setup({ transport: "http" }), setup({ transport: "memory" })]) {
      t.ctx().progress(1)
      t.finish()
      await turn()
      expect(t.response()).toBeDefined()
      expect(t.pings()).toEqual([])
    }
    expect(defaultProgressBarrier({ name: "claude-code", version: "1" }, "ws")).toBe(true)
    expect(defaultProgressBarrier(undefined, "stdio")).toBe(true)
  })

  it("a close (stdin EOF) releases a response waiting for its pong at once: the client can no longer answer", async () => {
    const t = setup()
    t.ctx().progress(1)
    t.finish()
    await turn()
    expect(t.response()).toBeUndefined()
    void t.session.close({ reason: "stdin ended" })
    await turn()
    expect(t.response()).toBeDefined()
    expect((await t.session.ended).reason).toBe("stdin ended")
  })
})
