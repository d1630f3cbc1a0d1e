/**
 * A `Map` for a long-lived table of short-lived values (a server's sessions
 * under churn): a value taken out of it is no longer reachable from the
 * table's discarded storage, so the young GC can free it.
 *
 * Why: V8 grows and compacts a `Map`'s or `Set`'s hash table by copying it into
 * a new one and leaves the old table as it was, entries included. When the table
 * lives in old space (any table that outlived two scavenges), the old copy is
 * garbage only a full GC can tell: until then the scavenger takes every slot of
 * it as a root. A table that holds ~32 sessions and sees one added and one
 * removed per session is copied every ~32 additions, so nearly every session
 * that passed through was in some dropped copy: under HTTP churn at 32
 * concurrent sessions each scavenge kept ≈ 2 MB of ended sessions alive and the
 * next one promoted 98 % of it (docs/performance.md, "Why churned sessions
 * survived the young GC"; `test/runtime.clearingMap.test.ts` shows it).
 *
 * Here each value sits in a cell of its own, emptied when the key is deleted:
 * a dropped table keeps the key and an empty cell (a few bytes), not the value.
 * Keys should be primitives (ids): an object key stays reachable from dropped
 * tables like a value would.
 *
 * @since 0.4.0
 */

interface Cell<V> {
  value: V | undefined
}

/** An insertion-ordered map whose deleted values are unreachable from its storage (see the module comment). */
export class ClearingMap<K, V> {
  private readonly cells = new Map<K, Cell<V>>()

  get size(): number {
    return this.cells.size
  }

  get(key: K): V | undefined {
    return this.cells.get(key)?.value
  }

  has(key: K): boolean {
    return this.cells.has(key)
  }

  set(key: K, value: V): this {
    const cell = this.cells.get(key)
    if (cell !== undefined) cell.value = value
    else this.cells.set(key, { value })
    return this
  }

  delete(key: K): boolean {
    const cell = this.cells.get(key)
    if (cell === undefined) return false
    cell.value = undefined
    this.cells.delete(key)
    return true
  }

  clear(): void {
    for (const cell of this.cells.values()) cell.value = undefined
    this.cells.clear()
  }

  /** The oldest value (first inserted among those left), or undefined when empty. */
  first(): V | undefined {
    for (const cell of this.cells.values()) return cell.value
    return undefined
  }

  *keys(): IterableIterator<K> {
    yield* this.cells.keys()
  }

  *values(): IterableIterator<V> {
    for (const cell of this.cells.values()) yield cell.value as V
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [key, cell] of this.cells) yield [key, cell.value as V]
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries()
  }
}
