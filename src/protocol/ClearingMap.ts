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
 * survived the young GC"; `test/protocol.clearingMap.test.ts` shows it).
 *
 * Here the hash table maps each key to a slot number, and the values live in
 * an array of slots written in place (a slot is emptied on delete and reused):
 * a dropped table holds keys and small integers, not values. The array is copied
 * only when it grows past the most entries it ever held. Keys should be
 * primitives (ids): an object key stays reachable from dropped tables like a
 * value would (a string key costs its few bytes until the next full GC).
 *
 * @since 0.4.0
 */

/** An insertion-ordered map whose deleted values are unreachable from its storage (see the module comment). */
export class ClearingMap<K, V> {
  /** Each key's slot, in insertion order. */
  private readonly index = new Map<K, number>()
  private readonly slots: Array<V | undefined> = []
  /** Emptied slots, reused before the array grows. */
  private readonly free: Array<number> = []

  get size(): number {
    return this.index.size
  }

  get(key: K): V | undefined {
    const i = this.index.get(key)
    return i === undefined ? undefined : this.slots[i]
  }

  has(key: K): boolean {
    return this.index.has(key)
  }

  set(key: K, value: V): this {
    const i = this.index.get(key)
    if (i !== undefined) {
      this.slots[i] = value
      return this
    }
    this.insert(key, value)
    return this
  }

  /** Insert `key`, known to be absent (a `get` just said so): no lookup. */
  insert(key: K, value: V): void {
    const free = this.free.pop()
    if (free !== undefined) {
      this.slots[free] = value
      this.index.set(key, free)
    } else this.index.set(key, this.slots.push(value) - 1)
  }

  /** Insert `key` unless it is present (then nothing changes): false when it was. One lookup fewer than `has` + `set`. */
  add(key: K, value: V): boolean {
    if (this.index.has(key)) return false
    this.insert(key, value)
    return true
  }

  /** Delete `key` only if its value is `value`: false otherwise. One lookup fewer than `get` + `delete`. */
  deleteIf(key: K, value: V): boolean {
    const i = this.index.get(key)
    if (i === undefined || this.slots[i] !== value) return false
    this.slots[i] = undefined
    this.free.push(i)
    this.index.delete(key)
    return true
  }

  delete(key: K): boolean {
    const i = this.index.get(key)
    if (i === undefined) return false
    this.slots[i] = undefined
    this.free.push(i)
    this.index.delete(key)
    return true
  }

  clear(): void {
    this.slots.fill(undefined)
    this.free.length = 0
    for (let i = this.slots.length - 1; i >= 0; i--) this.free.push(i)
    this.index.clear()
  }

  /** The oldest value (first inserted among those left), or undefined when empty. */
  first(): V | undefined {
    for (const i of this.index.values()) return this.slots[i]
    return undefined
  }

  keys(): IterableIterator<K> {
    return this.index.keys()
  }

  *values(): IterableIterator<V> {
    for (const i of this.index.values()) yield this.slots[i] as V
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [key, i] of this.index) yield [key, this.slots[i] as V]
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries()
  }
}
