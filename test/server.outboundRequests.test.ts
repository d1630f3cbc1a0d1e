import { describe, expect, it } from "vitest"
import { systemClock } from "../src/protocol/clock.ts"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { OutboundRequests } from "../src/server/session/outboundRequests.ts"

describe("OutboundRequests (a session's requests to its client)", () => {
  it("matches an answer by the exact id it sent (s<n>, kept by its number): look-alikes and numbers settle nothing", async () => {
    const sent: Array<JsonRpcMessage> = []
    const out = new OutboundRequests((m) => sent.push(m))
    const first = out.request("ping", undefined, 60_000, undefined, systemClock, undefined)
    const second = out.request("ping", undefined, 60_000, undefined, systemClock, undefined)
    expect(sent.map((m) => (m as { id?: unknown }).id)).toEqual(["s1", "s2"])
    for (const id of ["s01", "s1.0", "S1", "s", "s-1", "s1 ", 1, "1"]) out.answer({ jsonrpc: "2.0", id, result: {} })
    expect(out.size).toBe(2)
    out.answer({ jsonrpc: "2.0", id: "s2", result: { n: 2 } })
    out.answer({ jsonrpc: "2.0", id: "s1", error: { code: -32601, message: "no" } })
    expect(await second).toEqual({ n: 2 })
    await expect(first).rejects.toThrow("no")
    expect(out.size).toBe(0)
    out.answer({ jsonrpc: "2.0", id: "s1", result: {} }) // late: dropped
    expect(out.size).toBe(0)
  })

  it("rejectAll fails every request still waiting", async () => {
    const out = new OutboundRequests(() => {})
    const a = out.request("ping", undefined, 60_000, undefined, systemClock, undefined)
    const b = out.request("roots/list", undefined, 60_000, undefined, systemClock, undefined)
    out.rejectAll()
    await expect(a).rejects.toThrow("Session closed")
    await expect(b).rejects.toThrow("Session closed")
    expect(out.size).toBe(0)
  })
})
