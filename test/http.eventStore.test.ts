/**
 * The in-memory SSE event store behind Streamable HTTP resumability: what a
 * resume gets back, and the bounds that keep a non-resuming client from
 * growing memory.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { describe, expect, it } from "vitest"
import { makeMemoryEventStore, parseEventId, type StoredEvent } from "../src/transports/http/EventStore.ts"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

const ev = (stream: string, seq: number, data = `m${seq}`, supersedes?: string): StoredEvent => ({ id: `${stream}_${seq}`, stream, seq, data, supersedes })

describe("makeMemoryEventStore", () => {
  it("replays the events after a sequence number on the same stream only, oldest first", () => {
    const store = makeMemoryEventStore()
    store.append("s", ev("1", 1))
    store.append("s", ev("0", 2))
    store.append("s", ev("1", 3))
    store.append("t", ev("1", 4))
    store.append("s", ev("1", 5))
    expect(store.after("s", "1", 1).map((e) => e.seq)).toEqual([3, 5])
    expect(store.after("s", "0", 0).map((e) => e.seq)).toEqual([2])
    expect(store.after("s", "1", 5)).toEqual([])
    expect(store.after("nobody", "1", 0)).toEqual([])
  })

  it("keeps at most maxEventsPerSession events and maxBytesPerSession characters per session, dropping the oldest", () => {
    const store = makeMemoryEventStore({ maxEventsPerSession: 3, maxBytesPerSession: 10 })
    for (let i = 1; i <= 200; i++) store.append("s", ev("1", i, "ab"))
    expect(store.after("s", "1", 0).map((e) => e.seq)).toEqual([198, 199, 200])
    store.append("s", ev("1", 201, "0123456789"))
    // Over the byte limit: only the newest event stays (it alone may exceed the limit).
    expect(store.after("s", "1", 0).map((e) => e.seq)).toEqual([201])
    store.append("s", ev("1", 202, "x".repeat(50)))
    expect(store.after("s", "1", 0).map((e) => e.seq)).toEqual([202])
  })

  it("keeps the whole store under maxTotalBytes: the appending session first, then the least recently active", () => {
    const store = makeMemoryEventStore({ maxTotalBytes: 10 })
    store.append("old", ev("1", 1, "aaaa"))
    store.append("mid", ev("1", 2, "bbbb"))
    store.append("new", ev("1", 3, "cc"))
    store.append("new", ev("1", 4, "dd"))
    // 12 > 10: "new" gives up its oldest event first.
    expect(store.after("new", "1", 0).map((e) => e.seq)).toEqual([4])
    expect(store.after("old", "1", 0).map((e) => e.seq)).toEqual([1])
    store.append("new", ev("1", 5, "eeee"))
    // "new" is down to one event beyond its own: "old" (least recently appended) is evicted and forgotten.
    expect(store.after("old", "1", 0)).toEqual([])
    expect(store.after("mid", "1", 0).map((e) => e.seq)).toEqual([2])
    expect(store.sessionCount).toBe(2)
  })

  it("dropSession frees a session and its share of the total", () => {
    const store = makeMemoryEventStore({ maxTotalBytes: 8 })
    store.append("a", ev("1", 1, "aaaa"))
    store.append("b", ev("1", 2, "bbbb"))
    expect(store.sessionCount).toBe(2)
    store.dropSession("a")
    store.dropSession("a")
    expect(store.sessionCount).toBe(1)
    // The 4 characters of "a" no longer count: "b" can grow to 8 without losing anything.
    store.append("b", ev("1", 3, "cccc"))
    expect(store.after("b", "1", 0).map((e) => e.seq)).toEqual([2, 3])
  })

  it("holds no evicted event: a session over its byte limit keeps no more than its limit reachable", async () => {
    // Before, evicted events stayed in the log's array until it was compacted (past 64 evicted): a session
    // sending large results over its byte limit kept up to 64 of them beyond the limit, and under a stream
    // of calls every event outlived the young GC (docs/performance.md, "Legacy calls with progress and the young GC").
    const store = makeMemoryEventStore({ maxBytesPerSession: 100_000 })
    const refs: Array<WeakRef<StoredEvent>> = []
    for (let i = 1; i <= 40; i++) {
      const e = ev("1", i, "x".repeat(40_000 + i)) // two fit the limit
      refs.push(new WeakRef(e))
      store.append("s", e)
    }
    expect(store.after("s", "1", 0).map((e) => e.seq)).toEqual([39, 40])
    await new Promise((resolve) => setImmediate(resolve)) // (a WeakRef's target is kept for the job that made it)
    gc()
    const reachable = refs.flatMap((r, i) => r.deref() === undefined ? [] : [i + 1])
    expect(reachable).toEqual([39, 40]) // before: all 40 (1.6 MB for a limit of 100 KB)
  })

  it("stays compact under sustained eviction", () => {
    const store = makeMemoryEventStore({ maxEventsPerSession: 10 })
    for (let i = 1; i <= 100_000; i++) store.append("s", ev("1", i))
    expect(store.after("s", "1", 0).map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 99_991 + i))
  })
})

describe("parseEventId", () => {
  it("reads <stream>_<seq> and refuses anything else", () => {
    expect(parseEventId("3_17")).toEqual({ stream: "3", seq: 17 })
    expect(parseEventId("0_1")).toEqual({ stream: "0", seq: 1 })
    for (const bad of ["", "3-17", "a_1", "1_", "_1", "1_2_3", "1_99999999999999999"]) expect(parseEventId(bad)).toBeUndefined()
  })
})

describe("makeMemoryEventStore: superseding events (a paramless list_changed, keyed by its method)", () => {
  const signal = (list: string) => `{"jsonrpc":"2.0","method":"notifications/${list}/list_changed"}`
  /** A list-changed event as the HTTP session appends it: its `supersedes` key is its method (see supersedingKey). */
  const changed = (stream: string, seq: number, list: string): StoredEvent => ev(stream, seq, signal(list), `notifications/${list}/list_changed`)

  it("a stream nobody reads keeps only the newest copy of each list-changed signal, in its place (found by the s23 host soak)", () => {
    // A gateway session whose client left without DELETE, while upstreams restart: every catalog change
    // appends tools/prompts/resources list_changed to its standalone stream (0) until the session expires.
    const store = makeMemoryEventStore()
    let seq = 0
    for (let change = 0; change < 500; change++) for (const list of ["tools", "prompts", "resources"]) store.append("s", changed("0", ++seq, list))
    expect(store.after("s", "0", 0).map((e) => [e.seq, e.data])).toEqual([
      [1498, signal("tools")],
      [1499, signal("prompts")],
      [1500, signal("resources")]
    ])
    // a resume from a cursor between them gets what follows it
    expect(store.after("s", "0", 1498).map((e) => e.seq)).toEqual([1499, 1500])
  })

  it("superseded copies no longer count against the byte budget: the other sessions keep their events", () => {
    const store = makeMemoryEventStore({ maxTotalBytes: 2000 })
    // 3 signals of ~62 characters stay counted however many changes there were, so "other" (500) is never evicted
    store.append("other", ev("0", 1, "x".repeat(500)))
    for (let i = 2; i <= 10_000; i++) store.append("s", changed("0", i, ["tools", "prompts", "resources"][i % 3]!))
    expect(store.after("other", "0", 0).map((e) => e.seq)).toEqual([1])
    expect(store.after("s", "0", 0)).toHaveLength(3)
  })

  it("only events with the same key on the same stream of the same session are coalesced; other duplicates are kept", () => {
    const store = makeMemoryEventStore()
    const log = `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"same"}}`
    const withParams = `{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"x":1}}`
    store.append("s", changed("0", 1, "tools"))
    store.append("s", changed("2", 2, "tools"))
    store.append("s", ev("0", 3, log))
    store.append("s", ev("0", 4, log))
    store.append("s", ev("0", 5, withParams))
    store.append("s", ev("0", 6, withParams))
    store.append("t", changed("0", 7, "tools"))
    expect(store.after("s", "0", 0).map((e) => e.seq)).toEqual([1, 3, 4, 5, 6])
    expect(store.after("s", "2", 0).map((e) => e.seq)).toEqual([2])
    expect(store.after("t", "0", 0).map((e) => e.seq)).toEqual([7])
  })

  it("supersedes by the key it is given, never by the text: a keyless list_changed is kept, keyed events with different texts coalesce", () => {
    const store = makeMemoryEventStore()
    // No key: the store does not read `data` (this text is exactly what the old regex matched).
    store.append("s", ev("0", 1, signal("tools")))
    store.append("s", ev("0", 2, signal("tools")))
    // Same key, different texts (`params: {}`, `_meta: {}`, another key order): the newest stands for all of them.
    store.append("s", ev("0", 3, `{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{}}`, "notifications/tools/list_changed"))
    store.append("s", ev("0", 4, `{"method":"notifications/tools/list_changed","jsonrpc":"2.0"}`, "notifications/tools/list_changed"))
    // Hostile keys are map keys like any other: each supersedes only its own older copy.
    let seq = 4
    for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty"]) store.append("s", ev("0", ++seq, "a", key))
    for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty"]) store.append("s", ev("0", ++seq, "b", key))
    expect(store.after("s", "0", 0).map((e) => e.seq)).toEqual([1, 2, 4, 9, 10, 11, 12])
  })

  it("eviction after coalescing: per-session limits count live events only, and a session can still be emptied", () => {
    const store = makeMemoryEventStore({ maxEventsPerSession: 3 })
    let seq = 0
    for (let i = 0; i < 50; i++) store.append("s", changed("0", ++seq, "tools"))
    for (let i = 0; i < 5; i++) store.append("s", ev("0", ++seq, `m${seq}`))
    expect(store.after("s", "0", 0).map((e) => e.seq)).toEqual([53, 54, 55])
    store.dropSession("s")
    expect(store.sessionCount).toBe(0)
  })
})
