/**
 * Which long-lived tables a workload writes its short-lived things into (docs/performance.md, "Why churned
 * sessions survived the young GC"): a `Map` or `Set` in old space with one insert and delete per session or
 * call keeps every one of them reachable for the young GC through its dropped hash tables, so the tests of
 * the server's, inspector's, host's and clients' tables record the insertions and look at the tables still
 * alive afterwards.
 */
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

/** Insertions of one kind of thing into one table that outlived the workload. */
export interface LiveTableInsertions {
  /** The table's constructor (`Map`, `Set`, `WeakMap`, `WeakSet`, or a subclass). */
  readonly table: string
  /** Where its first recorded insertion came from (project frames below the recorder's). */
  readonly from: string
  /** What went in, as `classify` named it. */
  readonly what: string
  readonly count: number
}

/** Where an insertion came from: the frames below the recorder's own, project files only. */
const origin = (): string =>
  (new Error().stack ?? "").split("\n").slice(4).filter((l) => !l.includes("node_modules") && !l.includes("node:")).slice(0, 2)
    .map((l) => l.trim().replace(/^at /, "").replace(/.*\/(src|machines|test)\//, "$1/")).join(" < ")

/**
 * Run `body` while recording every `Map.set` and `Set.add` (with `weak`, also `WeakMap.set` and
 * `WeakSet.add`) whose key or value `classify` names; then, after a turn of the event loop (a `WeakRef`'s
 * target is kept for the job that made it) and two full GCs (the workload's own tables go), return the
 * insertions into tables still alive, by table and by what went in.
 */
export const insertionsIntoLiveTables = async (
  body: () => Promise<void>,
  classify: (x: unknown) => string | undefined,
  options: { readonly weak?: boolean } = {}
): Promise<Array<LiveTableInsertions>> => {
  const mapSet = Map.prototype.set, setAdd = Set.prototype.add, weakMapSet = WeakMap.prototype.set, weakSetAdd = WeakSet.prototype.add
  const tables = new WeakMap<object, { readonly ref: WeakRef<object>; readonly from: string; readonly counts: Record<string, number> }>()
  const seen: Array<{ readonly ref: WeakRef<object>; readonly from: string; readonly counts: Record<string, number> }> = []
  let inside = false
  const note = (table: object, what: string | undefined): void => {
    if (what === undefined || inside) return
    inside = true // the recorder's own WeakMap.set
    try {
      let entry = tables.get(table)
      if (entry === undefined) {
        entry = { ref: new WeakRef(table), from: origin(), counts: {} }
        tables.set(table, entry)
        seen.push(entry)
      }
      entry.counts[what] = (entry.counts[what] ?? 0) + 1
    } finally {
      inside = false
    }
  }
  Map.prototype.set = function(this: Map<unknown, unknown>, key: unknown, value: unknown) {
    note(this, classify(key) ?? classify(value))
    return mapSet.call(this, key, value)
  }
  Set.prototype.add = function(this: Set<unknown>, value: unknown) {
    note(this, classify(value))
    return setAdd.call(this, value)
  }
  if (options.weak === true) {
    WeakMap.prototype.set = function(this: WeakMap<WeakKey, unknown>, key: WeakKey, value: unknown) {
      note(this, classify(key) ?? classify(value))
      return weakMapSet.call(this, key, value)
    }
    WeakSet.prototype.add = function(this: WeakSet<WeakKey>, value: WeakKey) {
      note(this, classify(value))
      return weakSetAdd.call(this, value)
    }
  }
  try {
    await body()
  } finally {
    Map.prototype.set = mapSet
    Set.prototype.add = setAdd
    WeakMap.prototype.set = weakMapSet
    WeakSet.prototype.add = weakSetAdd
  }
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  gc()
  const out: Array<LiveTableInsertions> = []
  for (const { ref, from, counts } of seen) {
    const table = ref.deref()
    if (table === undefined) continue
    for (const [what, count] of Object.entries(counts)) out.push({ table: table.constructor.name, from, what, count })
  }
  return out
}
