/**
 * A shared stand-in for a per-session table that is empty most of the time
 * (requests in flight, HTTP exchanges and streams): an idle session points at
 * this one instance instead of owning an empty `Map` (about 200 bytes each,
 * which is most of what an idle session weighs).
 *
 * Reads (`get`, `has`, `size`, iteration, `delete`) work as on any empty Map.
 * Writing into it would share entries across sessions, so `set` throws: owners
 * swap in a `Map` of their own first (see {@link ownTable}).
 */
class EmptyTableMap<K, V> extends Map<K, V> {
  override set(_key: K, _value: V): this {
    throw new Error("mcp-actors: the shared empty table is read-only (call ownTable first)")
  }
}

const EMPTY: Map<unknown, unknown> = new EmptyTableMap()

/** The shared empty table (typed for the caller's keys and values). */
export const emptyTable = <K, V>(): Map<K, V> => EMPTY as Map<K, V>

/** `table` itself, or a new `Map` when it is the shared empty one: assign the result before writing. */
export const ownTable = <K, V>(table: Map<K, V>): Map<K, V> => (table === EMPTY ? new Map<K, V>() : table)

/** True for the shared empty table. */
export const isEmptyTable = (table: ReadonlyMap<unknown, unknown>): boolean => table === EMPTY
