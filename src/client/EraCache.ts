/**
 * Where a dual-era client remembers which era a server speaks, so that the
 * next connection skips the `server/discover` probe. Clients "SHOULD cache"
 * the decision per server process (stdio) or origin (HTTP)
 * (2026-07-28/basic/versioning.mdx:L149-L152). The key says which server:
 * `stdioServerKey(command, args)` or `httpServerKey(url)`.
 *
 * The interface is the contract (a persistent cache can implement it);
 * `MemoryEraCache` is the in-process default.
 */
import type { Era } from "../protocol/era.ts"
import type { ModernVersion } from "../protocol/versions.ts"

export interface EraCacheEntry {
  readonly era: Era
  /** Modern only: the version that worked. */
  readonly protocolVersion?: ModernVersion
}

export interface EraCache {
  get(key: string): EraCacheEntry | undefined
  set(key: string, entry: EraCacheEntry): void
  delete(key: string): void
}

export class MemoryEraCache implements EraCache {
  private readonly entries = new Map<string, EraCacheEntry>()
  get(key: string): EraCacheEntry | undefined {
    return this.entries.get(key)
  }
  set(key: string, entry: EraCacheEntry): void {
    this.entries.set(key, entry)
  }
  delete(key: string): void {
    this.entries.delete(key)
  }
  get size(): number {
    return this.entries.size
  }
}

/** The process-wide cache used when a connect call names none. */
export const defaultEraCache: EraCache = new MemoryEraCache()

/** A stdio server is identified by the command line that starts it. */
export const stdioServerKey = (command: string, args: ReadonlyArray<string> = []): string => `stdio:${JSON.stringify([command, ...args])}`

/** An HTTP server is identified by its origin (scheme, host, port). */
export const httpServerKey = (url: string | URL): string => `http:${new URL(url).origin}`
