import { describe, expect, it } from "vitest"
import { encode, notification, request } from "../src/protocol/jsonrpc.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import type { TransportClosed, TransportHandlers } from "../src/transports/Transport.ts"

const recorder = () => {
  const frames: Array<string> = []
  const oversized: Array<number> = []
  const closes: Array<TransportClosed> = []
  const events: Array<string> = []
  const handlers: TransportHandlers = {
    onFrame: (text) => {
      frames.push(text)
      events.push("frame")
    },
    onOversized: (bytes) => oversized.push(bytes),
    onClose: (closed) => {
      closes.push(closed)
      events.push("close")
    }
  }
  return { frames, oversized, closes, events, handlers }
}

const flushMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("memory transport pair", () => {
  it("delivers frames asynchronously, as encoded text, in order, both ways", async () => {
    const [a, b] = makeMemoryTransportPair()
    expect(a.kind).toBe("memory")
    expect(a.authoritativeLiveness).toBe(true)
    const ra = recorder()
    const rb = recorder()
    a.start(ra.handlers)
    b.start(rb.handlers)
    const m1 = request(1, "ping")
    const m2 = notification("notifications/initialized")
    a.send(m1)
    a.send(m2)
    b.send(request("x", "tools/list", { cursor: "é😀" }))
    expect(rb.frames).toEqual([]) // not synchronous
    await Promise.resolve()
    await Promise.resolve()
    expect(rb.frames).toEqual([encode(m1), encode(m2)])
    expect(ra.frames).toEqual([encode(request("x", "tools/list", { cursor: "é😀" }))])
  })

  it("holds frames sent before the peer started", async () => {
    const [a, b] = makeMemoryTransportPair()
    a.start(recorder().handlers)
    a.send(request(1, "ping"))
    a.send(request(2, "ping"))
    await flushMicrotasks()
    const rb = recorder()
    b.start(rb.handlers)
    expect(rb.frames.map((f) => JSON.parse(f).id)).toEqual([1, 2])
  })

  it("closing one side closes both, expected, once, after frames already sent", async () => {
    const [a, b] = makeMemoryTransportPair()
    const ra = recorder()
    const rb = recorder()
    a.start(ra.handlers)
    b.start(rb.handlers)
    a.send(request(1, "ping"))
    const closing = a.close()
    expect(a.close()).toBe(closing) // idempotent
    a.send(request(2, "ping")) // dropped: closed
    b.send(request(3, "ping")) // dropped: peer closed
    await closing
    await flushMicrotasks()
    expect(rb.events).toEqual(["frame", "close"])
    expect(ra.events).toEqual(["close"])
    expect(ra.closes).toEqual([{ expected: true, reason: "closed" }])
    expect(rb.closes).toEqual([{ expected: true, reason: "peer closed" }])
    expect(a.closed && b.closed).toBe(true)
    await b.close()
    await flushMicrotasks()
    expect(rb.closes).toHaveLength(1)
  })

  it("reports frames over maxMessageBytes as oversized", async () => {
    const [a, b] = makeMemoryTransportPair({ maxMessageBytes: 64 })
    const rb = recorder()
    a.start(recorder().handlers)
    b.start(rb.handlers)
    const big = request(1, "tools/call", { text: "z".repeat(100) })
    a.send(big)
    a.send(request(2, "ping"))
    await flushMicrotasks()
    expect(rb.oversized).toEqual([encode(big).length])
    expect(rb.frames).toEqual([encode(request(2, "ping"))])
  })
})
