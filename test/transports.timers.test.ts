/**
 * Transport timers on virtual time: they run on the one clock type
 * (src/protocol/clock.ts), so a simulated clock drives the SSE keep-alive and
 * stream deadline, the WebSocket heartbeat and close deadline. No real time.
 */
import { EventEmitter } from "node:events"
import type { ServerResponse } from "node:http"
import type WebSocket from "ws"
import { describe, expect, it } from "vitest"
import { every, sleepOn } from "../src/protocol/clock.ts"
import { SseHub, SseStream } from "../src/transports/http/SseStream.ts"
import type { TransportClosed } from "../src/transports/Transport.ts"
import { makeWsTransport } from "../src/transports/wsTransport.ts"
import { countingClock } from "./support/countingClock.ts"

/** Just enough of a ServerResponse for SseStream: records what was written. */
const fakeResponse = () => {
  const res = Object.assign(new EventEmitter(), {
    written: [] as Array<string>,
    destroyed: false,
    writableLength: 0,
    ended: false,
    writeHead: () => res,
    flushHeaders: () => {},
    write: (chunk: string) => void res.written.push(chunk),
    end: () => void (res.ended = true),
    destroy: () => void (res.destroyed = true)
  })
  return res
}

describe("SSE keep-alive and stream deadline (virtual time)", () => {
  it("a silent stream gets a keep-alive comment within one period; a busy one does not; the tick stops with the last stream", () => {
    const t = countingClock()
    const hub = new SseHub(1_000, t.clock)
    const quietRes = fakeResponse()
    const busyRes = fakeResponse()
    const quiet = new SseStream(quietRes as unknown as ServerResponse, hub)
    const busy = new SseStream(busyRes as unknown as ServerResponse, hub)
    expect(hub.ticking).toBe(true)
    expect(t.pending).toBe(1) // one shared timer, not one per stream
    const comments = (r: ReturnType<typeof fakeResponse>) => r.written.filter((w) => w === ": keepalive\n\n").length
    t.increment(499)
    expect(comments(quietRes)).toBe(0)
    t.increment(1) // first tick: both wrote (headers) since the hub started
    expect(comments(quietRes)).toBe(0)
    busy.event(undefined, "{}")
    t.increment(500) // second tick: silent for a period
    expect(comments(quietRes)).toBe(1)
    expect(comments(busyRes)).toBe(0)
    t.increment(500)
    expect(comments(quietRes)).toBe(1) // the comment itself counts as a write
    t.increment(500)
    expect(comments(quietRes)).toBe(2)
    quiet.end()
    busy.end()
    expect(hub.ticking).toBe(false)
    expect(t.pending).toBe(0)
  })

  it("maxDurationMs drops the connection on the hub's clock, and its timer is cleared when the stream ends first", () => {
    const t = countingClock()
    const hub = new SseHub(0, t.clock)
    let detached = 0
    const res = fakeResponse()
    const s = new SseStream(res as unknown as ServerResponse, hub, { maxDurationMs: 5_000, onDetach: () => void detached++ })
    t.increment(4_999)
    expect(s.closed).toBe(false)
    t.increment(1)
    expect(s.closed).toBe(true)
    expect(res.ended).toBe(true)
    expect(detached).toBe(1)
    const other = new SseStream(fakeResponse() as unknown as ServerResponse, hub, { maxDurationMs: 5_000 })
    expect(t.pending).toBe(1)
    other.end()
    expect(t.pending).toBe(0)
  })
})

/** Just enough of a `ws` socket for the transport: pings, pongs, terminate, close. */
const fakeSocket = () => {
  const socket = Object.assign(new EventEmitter(), {
    OPEN: 1,
    CLOSED: 3,
    CONNECTING: 0,
    readyState: 1,
    pings: 0,
    terminated: 0,
    ping: () => void socket.pings++,
    terminate: () => {
      socket.terminated++
      socket.readyState = 3
      // As with `ws`, the close event follows later.
      queueMicrotask(() => socket.emit("close", 1006, Buffer.from("")))
    },
    close: () => {},
    send: () => {}
  })
  return socket
}

describe("WebSocket heartbeat and close deadline (virtual time)", () => {
  const start = (heartbeatMs: number) => {
    const t = countingClock()
    const socket = fakeSocket()
    const transport = makeWsTransport(socket as unknown as WebSocket, { heartbeatMs, clock: t.clock, closeTimeoutMs: 2_000 })
    const closed: Array<TransportClosed> = []
    transport.start({ onFrame: () => {}, onOversized: () => {}, onClose: (c) => void closed.push(c) })
    return { t, socket, transport, closed }
  }

  it("pings every period; a peer that answers survives, one that misses a pong is terminated at the next beat", () => {
    const { t, socket, closed } = start(30_000)
    t.increment(29_999)
    expect(socket.pings).toBe(0)
    t.increment(1)
    expect(socket.pings).toBe(1)
    socket.emit("pong")
    t.increment(30_000)
    expect(socket.pings).toBe(2)
    expect(socket.terminated).toBe(0)
    t.increment(30_000) // no pong for the second ping
    expect(socket.terminated).toBe(1)
    expect(closed).toHaveLength(1)
    expect(closed[0]).toMatchObject({ expected: false })
    expect(closed[0]!.reason).toMatch(/unresponsive/)
    expect(t.pending).toBe(0) // the heartbeat stopped with the transport
  })

  it("close() terminates a peer that never sends its close frame after closeTimeoutMs", async () => {
    const { t, socket, transport, closed } = start(0)
    expect(t.pending).toBe(0) // heartbeat off
    const done = transport.close({ reason: "bye" })
    t.increment(1_999)
    expect(socket.terminated).toBe(0)
    t.increment(1)
    expect(socket.terminated).toBe(1)
    await done
    expect(closed).toHaveLength(1)
    expect(t.pending).toBe(0)
  })
})

describe("clock helpers", () => {
  it("every() repeats on the clock until stopped; sleepOn() resolves on the clock or false when aborted", async () => {
    const t = countingClock()
    let n = 0
    const stop = every(t.clock, 100, () => void n++)
    // SimulatedClock fires timers scheduled during a flush only on the next advance: one period at a time.
    for (let i = 0; i < 3; i++) t.increment(100)
    t.increment(50)
    expect(n).toBe(3)
    stop()
    t.increment(1_000)
    expect(n).toBe(3)
    expect(t.pending).toBe(0)
    const slept = sleepOn(t.clock, 50)
    t.increment(50)
    expect(await slept).toBe(true)
    const abort = new AbortController()
    const cut = sleepOn(t.clock, 50, abort.signal)
    abort.abort()
    expect(await cut).toBe(false)
    expect(t.pending).toBe(0)
  })
})
