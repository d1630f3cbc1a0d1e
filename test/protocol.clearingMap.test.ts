import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { describe, expect, it } from "vitest"
import { ClearingMap } from "../src/protocol/ClearingMap.ts"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void
const oldSpaceUsed = (): number => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!.space_used_size

interface Table {
  set(key: string, value: object): unknown
  delete(key: string): unknown
}

/**
 * A long-lived table (in old space) under churn: `live` values at a time, each added, kept while
 * `live - 1` more come, then deleted; each value owns ~1 KB. Returns the bytes per value that two
 * scavenges after the churn moved to old space: what the young GC still found reachable.
 */
const promotedPerValue = (table: Table, values: number, live = 32): number => {
  gc()
  gc() // the table, its hash table and everything else alive now in old space
  const before = oldSpaceUsed()
  const ids: Array<string> = []
  for (let i = 0; i < values; i++) {
    const id = `v${i}`
    table.set(id, { id, payload: new Array(250).fill(i) })
    ids.push(id)
    if (ids.length > live) table.delete(ids.shift()!)
  }
  for (const id of ids) table.delete(id)
  gc({ type: "minor" })
  gc({ type: "minor" })
  return (oldSpaceUsed() - before) / values
}

describe("ClearingMap", () => {
  it("is a Map: get, set, has, delete, size, insertion order, the oldest first, clear; add and deleteIf", () => {
    const m = new ClearingMap<string, { n: number }>()
    const a = { n: 1 }, b = { n: 2 }, c = { n: 3 }
    m.set("a", a).set("b", b).set("c", c)
    expect(m.size).toBe(3)
    expect(m.get("b")).toBe(b)
    expect(m.has("c")).toBe(true)
    expect(m.first()).toBe(a)
    expect(m.delete("a")).toBe(true)
    expect(m.delete("a")).toBe(false)
    expect(m.get("a")).toBeUndefined()
    expect(m.first()).toBe(b)
    // A freed slot is reused; the order is the keys' insertion order, not the slots'.
    const d = { n: 4 }
    m.set("d", d)
    expect([...m.keys()]).toEqual(["b", "c", "d"])
    expect([...m.values()]).toEqual([b, c, d])
    expect([...m]).toEqual([["b", b], ["c", c], ["d", d]])
    // Setting a present key replaces its value in place.
    const b2 = { n: 22 }
    m.set("b", b2)
    expect([...m.values()]).toEqual([b2, c, d])
    // Deleting while iterating: the rest is still visited, the deleted one not.
    const seen: Array<number> = []
    for (const v of m.values()) {
      seen.push(v.n)
      if (v.n === 22) m.delete("c")
    }
    expect(seen).toEqual([22, 4])
    // add: only when absent; deleteIf: only the value given.
    expect(m.add("d", a)).toBe(false)
    expect(m.get("d")).toBe(d)
    expect(m.deleteIf("d", a)).toBe(false)
    expect(m.deleteIf("d", d)).toBe(true)
    expect(m.has("d")).toBe(false)
    expect(m.add("d", a)).toBe(true)
    expect(m.get("d")).toBe(a)
    m.clear()
    expect(m.size).toBe(0)
    expect(m.first()).toBeUndefined()
    m.set("e", a)
    expect([...m]).toEqual([["e", a]])
  })

  it("keeps deleted values out of the young GC's reach, where a Map in old space keeps them until the next full GC (V8)", () => {
    const values = 4000 // ≈ 4 MB of values, ~1 KB each
    // The V8 behavior this works around: a Map's dropped hash tables (copied every ~32 insertions
    // here) still hold the values live at the copy, and in old space they are roots for the scavenger.
    // If this starts failing, V8 changed: the workaround may no longer be needed.
    const map = promotedPerValue(new Map<string, object>(), values)
    expect(map).toBeGreaterThan(1000) // ≈ 2.2 KB: every value, its payload and key

    const clearing = promotedPerValue(new ClearingMap<string, object>(), values)
    // ≈ 0.1 KB: the keys the dropped tables hold, and the tables themselves (allocated in old space)
    expect(clearing).toBeLessThan(300)
  })
})
