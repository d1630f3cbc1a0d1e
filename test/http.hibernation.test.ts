import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeDemoServer } from "../examples/demo.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { openSession, post } from "./support/mcpHttp.ts"
import { waitForTurns } from "./support/waitFor.ts"

// Idle HTTP sessions hibernate (one sweeper for all of them): calls are still
// served, a ping or DELETE restores the chart, and a hibernated session still
// expires at its idle deadline. The sweeper and the deadlines run on the
// server's clock: a simulated one here, so no test waits for real time.
describe("Streamable HTTP: idle sessions hibernate", () => {
  it("hibernates idle sessions, keeps serving them, restores the chart on ping, and ends them on DELETE", async () => {
    const clock = new SimulatedClock()
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 50, clock })
    try {
      const sessions = await Promise.all(Array.from({ length: 20 }, () => openSession(handle.url)))
      clock.increment(99)
      expect(handle.stats().hibernated).toBe(0) // the sweep runs every max(100, hibernateAfterMs / 2) ms
      clock.increment(1)
      expect(handle.stats().hibernated).toBe(20)
      const { sid, headers } = sessions[0]!
      const call = await post(handle.url, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "still here" } } }, headers)
      expect(((await call.json()) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text).toBe("still here")
      expect(handle.session(sid)!.isHibernated).toBe(true) // a call in `operating` needs no actor
      const ping = await post(handle.url, { jsonrpc: "2.0", id: 2, method: "ping" }, headers)
      expect(await ping.json()).toMatchObject({ id: 2, result: {} })
      expect(handle.session(sid)!.isHibernated).toBe(false)
      expect(handle.session(sid)!.stateName()).toBe("operating")
      const { del } = await import("./support/mcpHttp.ts")
      expect((await del(handle.url, sessions[1]!.headers)).status).toBeLessThan(300)
      expect(handle.session(sessions[1]!.sid)).toBeUndefined()
    } finally {
      await handle.close({ drainMs: 0 })
    }
    expect(handle.stats()).toMatchObject({ sessions: 0, hibernated: 0 })
  })

  it("a hibernated session still expires at its idle deadline", async () => {
    const clock = new SimulatedClock()
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 20, idleTimeoutMs: 300, clock })
    try {
      const { sid, headers } = await openSession(handle.url)
      clock.increment(100) // first sweep: idle for 100 ≥ 20 ms
      expect(handle.session(sid)?.isHibernated).toBe(true)
      clock.increment(199)
      await waitForTurns(() => true)
      expect(handle.sessions).toBe(1) // 299 ms idle: not yet
      clock.increment(1) // 300 ms: the wake timer restores the chart, which re-arms its idle deadline (already due)
      expect(handle.session(sid)?.isHibernated).toBe(false)
      clock.increment(1) // a simulated clock fires timers armed during a step on the next one
      await waitForTurns(() => handle.sessions === 0, "expired at its idle deadline")
      const after = await post(handle.url, { jsonrpc: "2.0", id: 9, method: "ping" }, headers)
      expect(after.status).toBe(404)
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })
})
