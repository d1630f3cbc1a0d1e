import { describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { openSession, post, waitFor } from "./support/mcpHttp.ts"

// Idle HTTP sessions hibernate (one sweeper for all of them): calls are still
// served, a ping or DELETE restores the chart, and a hibernated session still
// expires at its idle deadline.
describe("Streamable HTTP: idle sessions hibernate", () => {
  it("hibernates idle sessions, keeps serving them, restores the chart on ping, and ends them on DELETE", async () => {
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 50 })
    try {
      const sessions = await Promise.all(Array.from({ length: 20 }, () => openSession(handle.url)))
      await waitFor(() => handle.stats().hibernated === 20, 3_000, "all sessions hibernated")
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
    const handle = await makeHttpServer(makeDemoServer(), { hibernateAfterMs: 20, idleTimeoutMs: 300 })
    try {
      const { sid, headers } = await openSession(handle.url)
      await waitFor(() => handle.session(sid)?.isHibernated === true, 2_000, "hibernated")
      await waitFor(() => handle.sessions === 0, 3_000, "expired")
      const after = await post(handle.url, { jsonrpc: "2.0", id: 9, method: "ping" }, headers)
      expect(after.status).toBe(404)
    } finally {
      await handle.close({ drainMs: 0 })
    }
  })
})
