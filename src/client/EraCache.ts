/**
 * Where a dual-era client remembers which era a server speaks, so that the
 * next connection skips the `server/discover` probe. Clients "SHOULD cache"
 * the decision per server process (stdio) or origin (HTTP)
 * (2026-07-28/basic/versioning.mdx:L149-L152). The key says which server:
 * `stdioServerKey(command, args)` or `httpServerKey(url)`.
 *
 * The interface is the contract (a persistent cache can implement it);
 * `MemoryEraCache` is the in-process default, bounded (LRU) and expiring (TTL).
 * What a verdict *means* while in use (cached, unconfirmed, confirmed, revoked)
 * is the `eraProbe` chart's business; this is only its memory.
 */
import { type Clock, systemClock } from "../protocol/clock.ts"
import type { Era } from "../protocol/era.ts"
import type { ModernVersion } from "../protocol/versions.ts"

export interface EraCacheEntry {
  readonly era: Era
  /** Modern only: the version that worked. */
  readonly protocolVersion?: ModernVersion
}

/**
 * `now`, when given, is the caller's time (its client's clock, the runtime's): a
 * verdict's age is then measured on the clock of whoever reads it, so a
 * process-wide cache serves clients on different clocks (and virtual time in tests).
 */
export interface EraCache {
  get(key: string, now?: number): EraCacheEntry | undefined
  set(key: string, entry: EraCacheEntry, now?: number): void
  delete(key: string): void
}

/** Entries a `MemoryEraCache` keeps by default (least recently used evicted first). */
export const DEFAULT_ERA_CACHE_MAX_ENTRIES = 1_000
/** How long a verdict is trusted by default: a server may be upgraded (or downgraded) in place. */
export const DEFAULT_ERA_CACHE_TTL_MS = 60 * 60 * 1_000

export interface MemoryEraCacheOptions {
  /** At most this many servers are remembered; the least recently used goes first. Default 1000. */
  readonly maxEntries?: number
  /** A verdict older than this is forgotten (the next connect probes again). Default 1 h. */
  readonly ttlMs?: number
  /** The clock of the TTL when a caller gives no time. Default: the system clock. */
  readonly clock?: Pick<Clock, "now">
  /** Time source when a caller gives no time. Default: `clock.now()`. */
  readonly now?: () => number
}

/**
 * The in-process cache: bounded (LRU, `maxEntries`) and expiring (`ttlMs`), so that a
 * long-lived agent talking to many servers never grows it without limit.
 */
export class MemoryEraCache implements EraCache {
  private readonly entries = new Map<string, { readonly entry: EraCacheEntry; readonly at: number }>()
  private readonly maxEntries: number
  private readonly ttlMs: number
  private readonly now: () => number

  constructor(options: MemoryEraCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_ERA_CACHE_MAX_ENTRIES)
    this.ttlMs = options.ttlMs ?? DEFAULT_ERA_CACHE_TTL_MS
    const clock = options.clock ?? systemClock
    this.now = options.now ?? (() => clock.now())
  }

  get(key: string, now = this.now()): EraCacheEntry | undefined {
    const hit = this.entries.get(key)
    if (hit === undefined) return undefined
    this.entries.delete(key)
    if (now - hit.at >= this.ttlMs) return undefined // expired: forgotten
    this.entries.set(key, hit) // most recently used last
    return hit.entry
  }
  set(key: string, entry: EraCacheEntry, now = this.now()): void {
    this.entries.delete(key)
    this.entries.set(key, { entry, at: now })
    // Map iteration order is insertion order: the first key is the least recently used.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }
  delete(key: string): void {
    this.entries.delete(key)
  }
  get size(): number {
    return this.entries.size
  }
}

/** The process-wide cache used when a connect call names none (bounded: see `MemoryEraCache`). */
export const defaultEraCache: EraCache = new MemoryEraCache()

/** A stdio server is identified by the command line that starts it. */
export const stdioServerKey = (command: string, args: ReadonlyArray<string> = []): string => `stdio:${JSON.stringify([command, ...args])}`

/** An HTTP server is identified by its origin (scheme, host, port). */
export const httpServerKey = (url: string | URL): string => `http:${new URL(url).origin}`
