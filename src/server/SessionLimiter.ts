/**
 * Fair admission of new sessions (HTTP `initialize`, WebSocket upgrades), so a
 * flood of cheap, unauthenticated handshakes cannot lock well-behaved clients
 * out (issue 8.3: 10 000 `initialize` POSTs in 1.9 s used to fill the table
 * for the whole handshake deadline, or for the idle timeout once completed).
 *
 * Rules, checked in this order when a session asks to be admitted:
 * 1. **Per principal / per remote address** (optional, 0 = off): at the cap, the
 *    key's own oldest session still in the handshake is evicted (an abandoned
 *    attempt of the same client); if it has none, **429** — only that key is
 *    refused, its operating sessions (real work) are left alone.
 * 2. **Handshake budget**: at most `maxHandshakeSessions` sessions may be in
 *    the handshake; at the cap the oldest is evicted. A client that completes
 *    its handshake in less time than the flood needs to create that many
 *    sessions is never refused.
 * 3. **Total** (`maxSessions`): at the cap, evict the oldest session still in
 *    the handshake; if none, the operating session idle the longest with nothing
 *    in flight (its client gets 404 and may re-initialize, as after an idle
 *    expiry; a cap that refuses would otherwise lock everyone out until the
 *    idle timeout, 30 min by default); if every session is busy, **503**.
 *
 * 429 (RFC 6585 §4: this client sent too much) versus 503 (RFC 9110 §15.6.4:
 * the server is overloaded), both with `Retry-After`.
 *
 * Cost when only the defaults are on: two map inserts and deletes per session;
 * the idle scan runs only at the total cap with no handshake session left.
 *
 * The tables are keyed by session id, in {@link ClearingMap}s: a `Set` of the
 * sessions themselves, long-lived and churned, kept ended sessions reachable for
 * the young GC through its dropped hash tables (see ClearingMap.ts).
 */
import { ClearingMap } from "../protocol/ClearingMap.ts"

/** What the limiter needs from a session. */
export interface Limited {
  /** Unique among the limiter's live sessions (its tables are keyed by it). */
  readonly id: string
  /** When the session last had nothing in flight, or undefined while busy (a busy session is never evicted). */
  readonly idleSince: number | undefined
  /** End the session to make room (the transport tells the client, e.g. WebSocket close 1013). */
  evict(reason: string): void
}

/** Caps on live sessions for `makeHttpServer` / `makeWsServer`: bounds memory and keeps a flood of handshakes from locking out clients that finish theirs (rules in this file's header). */
export interface SessionLimits {
  /** Live sessions in all. Default 10 000. */
  readonly maxSessions?: number
  /** Sessions still in the handshake (no `notifications/initialized` yet); the oldest is evicted beyond. Default `maxSessions / 10`. */
  readonly maxHandshakeSessions?: number
  /** Live sessions per remote address; 0 = no cap (the default: clients behind one proxy or NAT share an address). */
  readonly maxSessionsPerAddress?: number
  /** Live sessions per principal bound by the auth hook; 0 = no cap (default). */
  readonly maxSessionsPerPrincipal?: number
}

/** The verdict on a new session: admitted, or refused with the HTTP status to answer (429 or 503). */
export type Admission =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 429 | 503; readonly message: string }

const ADMITTED: Admission = { ok: true }

/** Sessions under one key (an address or a principal), oldest first. */
class Keyed<S extends Limited> {
  readonly cap: number
  /** Per key, its sessions by id, oldest first. */
  readonly members = new Map<string, ClearingMap<string, S>>()
  /** Each session's key, by session id. */
  readonly keyOf = new ClearingMap<string, string>()
  constructor(cap: number) {
    this.cap = cap
  }
  full(key: string): ClearingMap<string, S> | undefined {
    const set = this.members.get(key)
    return set !== undefined && set.size >= this.cap ? set : undefined
  }
  add(s: S, key: string): void {
    let set = this.members.get(key)
    if (set === undefined) this.members.set(key, (set = new ClearingMap()))
    set.set(s.id, s)
    this.keyOf.set(s.id, key)
  }
  remove(s: S): void {
    const key = this.keyOf.get(s.id)
    if (key === undefined) return
    this.keyOf.delete(s.id)
    const set = this.members.get(key)!
    set.delete(s.id)
    if (set.size === 0) this.members.delete(key)
  }
}

/** Counts live sessions (in all, in the handshake, per address and principal) and decides admissions and evictions. */
export class SessionLimiter<S extends Limited> {
  readonly maxSessions: number
  readonly maxHandshakeSessions: number
  private readonly all = new ClearingMap<string, S>()
  /** Sessions in the handshake, oldest first (a map keeps insertion order). */
  private readonly handshaking = new ClearingMap<string, S>()
  private readonly byAddress: Keyed<S> | undefined
  private readonly byPrincipal: Keyed<S> | undefined
  /** Sessions evicted so far (for stats and tests). */
  evictions = 0

  constructor(limits: SessionLimits = {}) {
    this.maxSessions = limits.maxSessions ?? 10_000
    this.maxHandshakeSessions = limits.maxHandshakeSessions ?? Math.max(1, Math.floor(this.maxSessions / 10))
    const perAddress = limits.maxSessionsPerAddress ?? 0
    const perPrincipal = limits.maxSessionsPerPrincipal ?? 0
    this.byAddress = perAddress > 0 ? new Keyed(perAddress) : undefined
    this.byPrincipal = perPrincipal > 0 ? new Keyed(perPrincipal) : undefined
  }

  /** Sessions counted (evicted ones stop counting at once, before they finish closing). */
  get size(): number {
    return this.all.size
  }

  /** Sessions still in the handshake. */
  get handshakes(): number {
    return this.handshaking.size
  }

  /**
   * May a session from `address` / `principal` start now? Makes room by
   * evicting as described above; on `ok` the caller must `add` the session
   * before yielding to the event loop.
   */
  admit(address: string | undefined, principal: string | undefined): Admission {
    if (this.byPrincipal !== undefined && principal !== undefined) {
      const set = this.byPrincipal.full(principal)
      if (set !== undefined && !this.evictOldestHandshake(set, "evicted: too many sessions for this principal")) {
        return { ok: false, status: 429, message: `Too Many Requests: at most ${this.byPrincipal.cap} sessions per principal` }
      }
    }
    if (this.byAddress !== undefined && address !== undefined) {
      const set = this.byAddress.full(address)
      if (set !== undefined && !this.evictOldestHandshake(set, "evicted: too many sessions from this address")) {
        return { ok: false, status: 429, message: `Too Many Requests: at most ${this.byAddress.cap} sessions per client address` }
      }
    }
    if (this.handshaking.size >= this.maxHandshakeSessions) {
      this.evictOldestHandshake(this.handshaking, "evicted: handshake not completed (too many sessions in the handshake)")
    }
    if (this.all.size >= this.maxSessions &&
      !this.evictOldestHandshake(this.handshaking, "evicted: server full, handshake not completed") &&
      !this.evictLongestIdle()) {
      return { ok: false, status: 503, message: "Service Unavailable: too many sessions" }
    }
    return ADMITTED
  }

  /** Count an admitted session; it is in the handshake until `ready`. */
  add(s: S, address: string | undefined, principal: string | undefined): void {
    this.all.set(s.id, s)
    this.handshaking.set(s.id, s)
    if (address !== undefined) this.byAddress?.add(s, address)
    if (principal !== undefined) this.byPrincipal?.add(s, principal)
  }

  /** The session completed its handshake (or served a modern request): it leaves the handshake budget. */
  ready(s: S): void {
    this.handshaking.delete(s.id)
  }

  /** The session ended (idempotent; an evicted session was removed already). */
  remove(s: S): void {
    if (!this.all.deleteIf(s.id, s)) return
    this.handshaking.delete(s.id)
    this.byAddress?.remove(s)
    this.byPrincipal?.remove(s)
  }

  private evict(s: S, reason: string): void {
    this.remove(s)
    this.evictions++
    s.evict(reason)
  }

  /** Evict the oldest member of `set` still in the handshake; false when there is none. */
  private evictOldestHandshake(set: ClearingMap<string, S>, reason: string): boolean {
    if (set === this.handshaking) {
      const first = this.handshaking.first()
      if (first === undefined) return false
      this.evict(first, reason)
      return true
    }
    for (const s of set.values()) {
      if (this.handshaking.get(s.id) === s) {
        this.evict(s, reason)
        return true
      }
    }
    return false
  }

  /** Evict the operating session idle the longest (nothing in flight); false when all are busy. */
  private evictLongestIdle(): boolean {
    let victim: S | undefined
    let since = Infinity
    for (const s of this.all.values()) {
      const idle = s.idleSince
      if (idle !== undefined && idle < since) {
        since = idle
        victim = s
      }
    }
    if (victim === undefined) return false
    this.evict(victim, "evicted: server full, session idle the longest")
    return true
  }
}
