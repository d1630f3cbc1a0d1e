import { Writable } from "node:stream"
import { describe, expect, it } from "vitest"
import { LineFramer } from "../src/transports/LineFramer.ts"
import { MAX_BATCH_FRAMES, OutputBatcher } from "../src/transports/OutputBatcher.ts"
import { countingClock } from "./support/countingClock.ts"

const collect = (maxMessageBytes = 1024) => {
  const lines: Array<string> = []
  const oversized: Array<number> = []
  const framer = new LineFramer({
    maxMessageBytes,
    onLine: (line) => lines.push(line),
    onOversized: (bytes) => oversized.push(bytes)
  })
  return { framer, lines, oversized }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("LineFramer", () => {
  it("splits several lines per chunk and joins lines across chunks", () => {
    const { framer, lines } = collect()
    framer.push("a1\nb")
    expect(lines).toEqual(["a1"])
    framer.push("2")
    framer.push("\nc3\nd4")
    expect(lines).toEqual(["a1", "b2", "c3"])
    framer.push(Buffer.from("\n"))
    expect(lines).toEqual(["a1", "b2", "c3", "d4"])
    expect(framer.bufferedLength).toBe(0)
  })

  it("strips a trailing CR and skips empty and whitespace-only lines", () => {
    const { framer, lines } = collect()
    framer.push("{\"a\":1}\r\n\r\n\n   \n\t \r\n {\"b\":2}\r")
    framer.push("\n")
    expect(lines).toEqual(["{\"a\":1}", " {\"b\":2}"])
  })

  it("keeps a CR that is not at the end of the line", () => {
    const { framer, lines } = collect()
    framer.push("x\ry\n")
    expect(lines).toEqual(["x\ry"])
  })

  it("reassembles multi-byte UTF-8 split byte by byte across chunks", () => {
    const { framer, lines } = collect()
    const text = "{\"t\":\"é😀ü€\"}\n{\"u\":\"日本\"}\n"
    for (const byte of Buffer.from(text, "utf8")) framer.push(Buffer.from([byte]))
    expect(lines).toEqual(["{\"t\":\"é😀ü€\"}", "{\"u\":\"日本\"}"])
  })

  it("delivers a final line without newline at end()", () => {
    const { framer, lines } = collect()
    framer.push("one\ntwo")
    expect(lines).toEqual(["one"])
    framer.end()
    expect(lines).toEqual(["one", "two"])
  })

  it("drops an oversized line, reports it once with its size, and delivers the next line", () => {
    const { framer, lines, oversized } = collect(16)
    framer.push("ok\n" + "x".repeat(40) + "\nafter\n")
    expect(lines).toEqual(["ok", "after"])
    expect(oversized).toEqual([40])
  })

  it("counts bytes, not characters: 2-byte characters over the limit are oversized", () => {
    const { framer, lines, oversized } = collect(100)
    framer.push("é".repeat(49) + "\n") // 98 bytes: fits
    framer.push("é".repeat(51) + "\n") // 102 bytes, 51 characters: too big
    framer.push("fine\n")
    expect(lines).toEqual(["é".repeat(49), "fine"])
    expect(oversized).toEqual([102])
  })

  it("does not buffer a huge line spread over many chunks (memory stays bounded)", () => {
    const limit = 1024
    const { framer, lines, oversized } = collect(limit)
    framer.push("{\"first\":1}\n")
    let maxBuffered = 0
    const chunk = Buffer.from("y".repeat(100))
    for (let i = 0; i < 1000; i++) {
      framer.push(chunk)
      maxBuffered = Math.max(maxBuffered, framer.bufferedLength)
    }
    expect(framer.discarding).toBe(true)
    expect(maxBuffered).toBeLessThanOrEqual(limit)
    expect(oversized).toEqual([]) // reported once, when the line ends
    framer.push("tail\n{\"next\":2}\n")
    expect(oversized).toEqual([100_000 + 4])
    expect(lines).toEqual(["{\"first\":1}", "{\"next\":2}"])
    expect(framer.discarding).toBe(false)
    expect(framer.bufferedLength).toBe(0)
  })

  it("reports an oversized line that is still open at end()", () => {
    const { framer, lines, oversized } = collect(8)
    framer.push("0123456789abc")
    expect(framer.bufferedLength).toBe(0)
    framer.end()
    expect(oversized).toEqual([13])
    expect(lines).toEqual([])
  })

  it("a line exactly at the limit is delivered", () => {
    const { framer, lines, oversized } = collect(8)
    framer.push("12345")
    framer.push("678\n")
    expect(lines).toEqual(["12345678"])
    expect(oversized).toEqual([])
  })
})

/** A Writable that records each underlying write; `hold` keeps callbacks pending (a slow reader). */
const fakeWritable = (options: { highWaterMark?: number; hold?: boolean } = {}) => {
  const writes: Array<string> = []
  const held: Array<() => void> = []
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    decodeStrings: false,
    write(chunk, _enc, cb) {
      writes.push(String(chunk))
      if (options.hold === true) held.push(() => cb())
      else cb()
    }
  })
  const release = () => {
    for (const cb of held.splice(0)) cb()
  }
  /** The reader takes the oldest held write only. */
  const releaseOne = () => held.shift()?.()
  return { stream, writes, release, releaseOne }
}

describe("LineFramer: the two ends of an oversized line", () => {
  it("reports the first and last characters of a line skipped across chunks (never buffered whole)", () => {
    const reports: Array<[number, { head: string; tail: string }]> = []
    const f = new LineFramer({ maxMessageBytes: 1000, onLine: () => {}, onOversized: (bytes, edges) => void reports.push([bytes, edges]) })
    const start = `{"jsonrpc":"2.0","id":5,"result":{"text":"`
    const end = `"},"id":"end"}`
    f.push(`${start}${"a".repeat(600)}`)
    f.push("b".repeat(2000))
    f.push(`${"c".repeat(300)}${end}\r\nnext`)
    expect(f.bufferedLength).toBe(4)
    expect(reports).toHaveLength(1)
    const [bytes, { head, tail }] = reports[0]!
    expect(bytes).toBe(start.length + 600 + 2000 + 300 + end.length + 1) // the \r is counted while skipping
    expect(head).toBe(`${start}${"a".repeat(256 - start.length)}`)
    expect(tail).toBe(`${"c".repeat(256 - end.length)}${end}`)
  })
})

describe("OutputBatcher", () => {
  it("coalesces every frame pushed in one turn into one write (up to maxBatchFrames)", async () => {
    const { stream, writes } = fakeWritable()
    const batcher = new OutputBatcher(stream, { maxBatchFrames: 100 })
    for (let i = 0; i < 64; i++) batcher.push(`{"id":${i}}`)
    expect(writes).toEqual([]) // nothing written synchronously
    await nextTurn()
    expect(writes.length).toBe(1)
    expect(writes[0]!.split("\n")).toHaveLength(65)
    expect(writes[0]!.startsWith("{\"id\":0}\n{\"id\":1}\n")).toBe(true)
    expect(writes[0]!.endsWith("{\"id\":63}\n")).toBe(true)
    batcher.push("{\"later\":true}")
    await nextTurn()
    expect(writes).toHaveLength(2)
    expect(writes[1]).toBe("{\"later\":true}\n")
  })

  it("a turn that keeps answering writes every maxBatchFrames frames (default 8), the rest at its end", async () => {
    const { stream, writes } = fakeWritable()
    const batcher = new OutputBatcher(stream)
    expect(MAX_BATCH_FRAMES).toBe(8)
    for (let i = 0; i < 20; i++) batcher.push(`${i}`)
    // Written as the frames come, so a pipelining peer starts on the first answers while the turn goes on.
    expect(writes).toEqual(["0\n1\n2\n3\n4\n5\n6\n7\n", "8\n9\n10\n11\n12\n13\n14\n15\n"])
    await nextTurn()
    expect(writes.slice(2)).toEqual(["16\n17\n18\n19\n"])
    // A turn of exactly 8: one write, and the turn's end has nothing left to write.
    for (let i = 0; i < 8; i++) batcher.push(`b${i}`)
    expect(writes).toHaveLength(4)
    await nextTurn()
    expect(writes).toHaveLength(4)
    // Eager (a client's burst): the same limit within a burst.
    const eager = fakeWritable()
    const client = new OutputBatcher(eager.stream, { eager: true, maxBatchFrames: 3 })
    for (let i = 0; i < 6; i++) client.push(`c${i}`)
    expect(eager.writes).toEqual(["c0\n", "c1\nc2\nc3\n"]) // the burst's first at once, then every 3
    await Promise.resolve()
    expect(eager.writes.slice(2)).toEqual(["c4\nc5\n"])
    expect(() => new OutputBatcher(fakeWritable().stream, { maxBatchFrames: 0 })).toThrow(RangeError)
  })

  it("a blocked stream takes no write at the limit: frames wait for drain, in order, in one write", async () => {
    const { stream, writes, release } = fakeWritable({ highWaterMark: 16, hold: true })
    const batcher = new OutputBatcher(stream, { maxBatchFrames: 2 })
    batcher.push("x".repeat(20))
    batcher.push("y")
    expect(writes).toEqual(["x".repeat(20) + "\ny\n"])
    expect(batcher.blocked).toBe(true)
    for (let i = 0; i < 5; i++) batcher.push(`${i}`)
    expect(writes).toHaveLength(1)
    release()
    await nextTurn()
    expect(writes.slice(1)).toEqual(["0\n1\n2\n3\n4\n"])
    release()
  })

  it("includes frames pushed from microtasks of the same turn", async () => {
    const { stream, writes } = fakeWritable()
    const batcher = new OutputBatcher(stream)
    batcher.push("a")
    queueMicrotask(() => batcher.push("b"))
    await Promise.resolve().then(() => batcher.push("c"))
    await nextTurn()
    expect(writes).toEqual(["a\nb\nc\n"])
  })

  it("respects backpressure: no write while blocked, one write of everything on drain", async () => {
    const { stream, writes, release } = fakeWritable({ highWaterMark: 16, hold: true })
    const batcher = new OutputBatcher(stream)
    batcher.push("x".repeat(20))
    await nextTurn()
    expect(writes).toHaveLength(1)
    expect(batcher.blocked).toBe(true)
    for (let turn = 0; turn < 3; turn++) {
      batcher.push(`t${turn}`)
      await nextTurn()
    }
    expect(writes).toHaveLength(1) // buffered, not written
    expect(batcher.pendingLength).toBe("t0\nt1\nt2\n".length)
    release() // completes the write → 'drain'
    await nextTurn()
    expect(batcher.blocked).toBe(false)
    expect(writes).toEqual(["x".repeat(20) + "\n", "t0\nt1\nt2\n"])
    release()
  })

  it("eager (a client's requests): a lone frame is written at once, a burst's rest in one write, a pipelining caller's bursts whole, no Immediate left", async () => {
    const { stream, writes } = fakeWritable()
    const batcher = new OutputBatcher(stream, { eager: true })
    batcher.push("a")
    expect(writes).toEqual(["a\n"]) // synchronously: a lone request does not wait for the turn's end
    batcher.push("b")
    batcher.push("c")
    expect(writes).toEqual(["a\n"]) // the rest of the burst waits
    await Promise.resolve()
    expect(writes).toEqual(["a\n", "b\nc\n"]) // in one write, before the turn ends (no Immediate)
    // After that burst of two, the next burst is held whole: callers resumed together (continuations
    // queued before the first of them runs) go in one write, not two.
    const resumed = Promise.resolve()
    const sent = Array.from({ length: 8 }, (_, i) => resumed.then(() => batcher.push(`r${i}`)))
    await Promise.all(sent)
    expect(writes.slice(2)).toEqual(["r0\nr1\nr2\nr3\nr4\nr5\nr6\nr7\n"])
    // A lone frame after a burst of many is held too (one write, at its burst's end); after it, frames go at once again.
    batcher.push("d")
    expect(writes).toHaveLength(3)
    batcher.flush() // an explicit flush ends a burst
    expect(writes.slice(3)).toEqual(["d\n"])
    batcher.push("e")
    expect(writes.slice(4)).toEqual(["e\n"])
    await nextTurn()
    expect(writes).toHaveLength(5)
    // Without `eager`, nothing is written before the turn's Immediate.
    const plain = fakeWritable()
    const batched = new OutputBatcher(plain.stream)
    batched.push("x")
    await Promise.resolve()
    expect(plain.writes).toEqual([])
    await nextTurn()
    expect(plain.writes).toEqual(["x\n"])
  })

  it("eager respects backpressure: once a write returned false, frames wait for drain, in order", async () => {
    const { stream, writes, release } = fakeWritable({ highWaterMark: 16, hold: true })
    const batcher = new OutputBatcher(stream, { eager: true })
    batcher.push("x".repeat(20))
    expect(writes).toHaveLength(1)
    expect(batcher.blocked).toBe(true)
    await nextTurn()
    for (let turn = 0; turn < 3; turn++) {
      batcher.push(`t${turn}`)
      await nextTurn()
    }
    expect(writes).toHaveLength(1) // buffered, not written, not even eagerly
    release()
    await nextTurn()
    expect(batcher.blocked).toBe(false)
    expect(writes).toEqual(["x".repeat(20) + "\n", "t0\nt1\nt2\n"])
    release()
  })

  it("end() writes pending frames at once, resolves after the write, and drops later pushes", async () => {
    const { stream, writes } = fakeWritable()
    const batcher = new OutputBatcher(stream)
    batcher.push("a")
    batcher.push("b")
    const ended = batcher.end()
    expect(writes).toEqual(["a\nb\n"]) // before the Immediate would have run
    await ended
    batcher.push("c")
    await nextTurn()
    expect(writes).toEqual(["a\nb\n"])
    expect(stream.listenerCount("drain")).toBe(0)
  })

  it("end() does not hang on a reader that never reads: it gives up after flushTimeoutMs of its clock (10 virtual minutes)", async () => {
    const { stream, release } = fakeWritable({ highWaterMark: 4, hold: true })
    const sim = countingClock()
    const batcher = new OutputBatcher(stream, { flushTimeoutMs: 10 * 60_000, clock: sim.clock })
    batcher.push("stuck")
    let ended = false
    const ending = batcher.end().then(() => (ended = true))
    sim.increment(10 * 60_000 - 1)
    await nextTurn()
    expect(ended).toBe(false)
    sim.increment(1)
    await ending
    expect(ended).toBe(true)
    expect(sim.pending).toBe(0)
    release()
  })

  it("end() waits for a slow reader: the deadline counts from the last output taken, not from end()", async () => {
    const { stream, writes, releaseOne } = fakeWritable({ highWaterMark: 4, hold: true })
    const sim = countingClock()
    const batcher = new OutputBatcher(stream, { flushTimeoutMs: 1_000, clock: sim.clock })
    batcher.push("first")
    await nextTurn()
    batcher.push("second")
    batcher.push("third")
    let ended = false
    const ending = batcher.end().then(() => (ended = true))
    expect(writes).toEqual(["first\n"]) // the rest waits in the stream behind it
    sim.increment(900)
    releaseOne() // the reader takes "first": progress
    await nextTurn()
    expect(writes).toEqual(["first\n", "second\nthird\n"])
    sim.increment(100) // 1 s after end(): the old deadline; output was taken meanwhile, so it is re-armed
    await nextTurn()
    expect(ended).toBe(false)
    sim.increment(999)
    await nextTurn()
    expect(ended).toBe(false)
    sim.increment(1) // a whole period with nothing taken: the reader stopped
    await ending
    expect(ended).toBe(true)
    expect(sim.pending).toBe(0)
    releaseOne()
  })

  it("end() sees a socket's progress inside one large write (libuv's writeQueueSize counts down)", async () => {
    const { stream, releaseOne } = fakeWritable({ highWaterMark: 4, hold: true })
    const handle = { writeQueueSize: 3_000 }
    Object.assign(stream, { _handle: handle })
    const sim = countingClock()
    const batcher = new OutputBatcher(stream, { flushTimeoutMs: 1_000, clock: sim.clock })
    batcher.push("x".repeat(3_000)) // one write, taken by the peer piece by piece
    let ended = false
    const ending = batcher.end().then(() => (ended = true))
    for (const left of [2_000, 1_000, 10]) {
      handle.writeQueueSize = left
      sim.increment(1_000)
      await nextTurn()
      expect(ended).toBe(false)
    }
    handle.writeQueueSize = 0
    releaseOne() // the write completes: end() resolves at once
    await ending
    expect(sim.pending).toBe(0)
  })
})
