/**
 * A shared stand-in for a per-session table that is empty most of the time
 * (requests in flight, HTTP exchanges and streams): an idle session points at
 * this one instance instead of owning an empty table (about 200 bytes each,
 * which is most of what an idle session weighs).
 *
 * Reads (`get`, `has`, `size`, iteration, `delete`) work as on any empty table.
 * Writing into it would share entries across sessions, so `set` throws: owners
 * swap in a table of their own first (see {@link ownTable}).
 *
 * The tables are `ClearingMap`s: a long-lived session (a gateway's WebSocket client, thousands of calls)
 * adds and deletes one entry per request, and a `Map`'s dropped hash tables kept every request that went
 * through it reachable for the young GC once a full GC had moved the table to old space
 * (docs/performance.md, "The gateway's per-call path and the young GC").
 */
import { ClearingMap } from "../protocol/ClearingMap.ts"

class EmptyTableMap<K, V> extends ClearingMap<K, V> {
  override insert(_key: K, _value: V): void {
    throw new Error("mcp-actors: the shared empty table is read-only (call ownTable first)")
  }
}

const EMPTY: ClearingMap<unknown, unknown> = new EmptyTableMap()

/** The shared empty table (typed for the caller's keys and values). */
export const emptyTable = <K, V>(): ClearingMap<K, V> => EMPTY as ClearingMap<K, V>

/** `table` itself, or a new table when it is the shared empty one: assign the result before writing. */
export const ownTable = <K, V>(table: ClearingMap<K, V>): ClearingMap<K, V> => (table === EMPTY ? new ClearingMap<K, V>() : table)

/** True for the shared empty table. */
export const isEmptyTable = (table: object): boolean => table === EMPTY
