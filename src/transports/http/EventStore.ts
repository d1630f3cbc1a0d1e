/**
 * Where a Streamable HTTP session's SSE events wait for a client to resume
 * (2025-11-25/basic/transports.mdx:L164-L190): a client that lost a stream
 * reconnects with `GET` + `Last-Event-ID` and gets what it missed on **that**
 * stream only.
 *
 * Event ids are minted by the transport as `<stream>_<seq>`: `stream` is `0`
 * for the standalone GET stream and `1, 2, …` for the POST streams of the
 * session, `seq` is a per-session counter. So ids are unique across all
 * streams of a session and name their stream, as the spec asks, and the store
 * needs no index from id to stream.
 *
 * The interface is synchronous on purpose: sessions live in this process
 * (their actor, in-flight handlers and pending requests are here), so a
 * resumable event is only useful to this process, and appending on the hot
 * path must not reorder events behind an await. A store that mirrors events
 * elsewhere can still implement it by buffering.
 */
import { ClearingMap } from "../../protocol/ClearingMap.ts"

export interface StoredEvent {
  /** `<stream>_<seq>`, as sent in the SSE `id:` field. */
  readonly id: string
  readonly stream: string
  /** Per-session, strictly increasing. */
  readonly seq: number
  /** The serialized JSON-RPC message (the SSE `data:` field). */
  readonly data: string
  /**
   * Set when this event makes the older events of its stream with the same `supersedes` obsolete:
   * a resume needs only the newest of them (in its place in the order). Decided by whoever had the
   * message (the HTTP session: `supersedingKey` of src/protocol, a paramless `list_changed`'s method),
   * so a store never reads `data`. Optional information: a store that ignores it keeps every event,
   * which is correct, only larger.
   */
  readonly supersedes?: string | undefined
}

export interface EventStore {
  /** Record an event sent (or that would have been sent) on a session's stream. */
  append(sessionId: string, event: StoredEvent): void
  /** The session's events on `stream` with `seq` greater than the one given, oldest first. */
  after(sessionId: string, stream: string, seq: number): ReadonlyArray<StoredEvent>
  /** Forget everything about a session (it ended). */
  dropSession(sessionId: string): void
  /** Sessions with stored events (leak checks). */
  readonly sessionCount: number
}

export interface MemoryEventStoreOptions {
  /** Events kept per session; older ones are evicted first. Default 1000. */
  readonly maxEventsPerSession?: number
  /** Characters of `data` kept per session (its UTF-16 length, a proxy for bytes). Default 1 MiB. */
  readonly maxBytesPerSession?: number
  /**
   * Characters kept across all sessions. Default 64 MiB. Without it the worst
   * case is `maxSessions × maxBytesPerSession`.
   */
  readonly maxTotalBytes?: number
}

interface Log {
  /**
   * Stored events from `head` on; the slots before it are emptied as their events are evicted. Left
   * holding them, a session over its byte limit with large events kept up to 64 evicted ones beyond its
   * limits until the next compaction, and under a stream of calls their events survived the young GC
   * (docs/performance.md, "Legacy calls with progress and the young GC").
   */
  events: Array<StoredEvent | undefined>
  /** Index of the oldest live event in `events` (the slots before it are empty). */
  head: number
  bytes: number
  /** The newest stored event of each superseding key, by stream and key (`StoredEvent.supersedes`). */
  newest: Map<string, StoredEvent> | undefined
  /** Events at or after `head` superseded by a newer one with the same key: skipped, no longer counted. */
  dead: Set<StoredEvent> | undefined
}

/** Where a superseding event is found in `Log.newest` (streams are digits, with no newline: keys of two streams never collide). */
const newestKey = (e: StoredEvent): string => `${e.stream}\n${e.supersedes}`

/**
 * The default store: a bounded ring per session. Bounded so that a client that
 * never resumes (or a session whose GET stream is gone) cannot grow memory:
 * once a session is over its limits its oldest events go first; once the
 * store is over `maxTotalBytes`, the appending session gives up its oldest
 * events, then the least recently appended-to sessions theirs. A late resume
 * then simply gets less. An event with a `supersedes` key supersedes the older
 * events with that key on the same stream (a resume gets the newest, in its place in the
 * order): a session whose client went away without closing it (the official SDK's `close()`
 * sends no DELETE) would otherwise store one `list_changed` per catalog change until it
 * expires (a host gateway whose upstreams restart: 427,000 of them, 75 MB, in 6 minutes).
 */
export const makeMemoryEventStore = (options: MemoryEventStoreOptions = {}): EventStore => {
  const maxEvents = Math.max(1, options.maxEventsPerSession ?? 1000)
  const maxBytes = Math.max(1, options.maxBytesPerSession ?? 1024 * 1024)
  const maxTotal = Math.max(1, options.maxTotalBytes ?? 64 * 1024 * 1024)
  /**
   * In least-recently-appended order (re-inserted on append). A ClearingMap: re-inserted on every
   * event, a `Map`'s dropped tables kept ended sessions' logs reachable for the young GC (see ClearingMap.ts).
   */
  const logs = new ClearingMap<string, Log>()
  let total = 0

  const evictOldest = (log: Log): void => {
    const e = log.events[log.head]!
    log.events[log.head] = undefined
    log.head++
    if (log.dead?.delete(e) !== true) {
      log.bytes -= e.data.length
      total -= e.data.length
      if (e.supersedes !== undefined && log.newest !== undefined) {
        const key = newestKey(e)
        if (log.newest.get(key) === e) log.newest.delete(key)
      }
    }
    // Compact once the garbage prefix dominates, so eviction stays O(1) amortized.
    if (log.head > 64 && log.head * 2 > log.events.length) {
      log.events = log.events.slice(log.head)
      log.head = 0
    }
  }
  const live = (log: Log): number => log.events.length - log.head - (log.dead?.size ?? 0)
  /** `event` has a `supersedes` key: the older event with that key on the same stream, if still stored, no longer counts. */
  const supersede = (log: Log, event: StoredEvent): void => {
    const key = newestKey(event)
    const older = (log.newest ??= new Map()).get(key)
    log.newest.set(key, event)
    if (older === undefined) return
    const dead = (log.dead ??= new Set())
    dead.add(older)
    log.bytes -= older.data.length
    total -= older.data.length
    // Superseded copies are let go of once they are half of what is stored (amortized O(1) per append).
    if (dead.size > 16 && dead.size * 2 > log.events.length - log.head) {
      log.events = log.events.slice(log.head).filter((e) => !dead.has(e!))
      log.head = 0
      dead.clear()
    }
  }

  return {
    append(sessionId, event) {
      let log = logs.get(sessionId)
      if (log === undefined) log = { events: [], head: 0, bytes: 0, newest: undefined, dead: undefined }
      else logs.delete(sessionId)
      logs.set(sessionId, log)
      if (event.supersedes !== undefined) supersede(log, event)
      log.events.push(event)
      log.bytes += event.data.length
      total += event.data.length
      while (live(log) > maxEvents || (log.bytes > maxBytes && live(log) > 1)) evictOldest(log)
      while (total > maxTotal && live(log) > 1) evictOldest(log)
      if (total > maxTotal) {
        for (const [id, other] of logs) {
          if (total <= maxTotal) break
          if (other === log) continue
          while (total > maxTotal && live(other) > 0) evictOldest(other)
          if (live(other) === 0) logs.delete(id)
        }
      }
    },
    after(sessionId, stream, seq) {
      const log = logs.get(sessionId)
      if (log === undefined) return []
      const out: Array<StoredEvent> = []
      for (let i = log.head; i < log.events.length; i++) {
        const e = log.events[i]!
        if (e.stream === stream && e.seq > seq && log.dead?.has(e) !== true) out.push(e)
      }
      return out
    },
    dropSession(sessionId) {
      const log = logs.get(sessionId)
      if (log === undefined) return
      total -= log.bytes
      logs.delete(sessionId)
    },
    get sessionCount() {
      return logs.size
    }
  }
}

/** Parse a `Last-Event-ID` minted by this transport; undefined when it is not one of ours. */
export const parseEventId = (id: string): { readonly stream: string; readonly seq: number } | undefined => {
  const m = /^(\d{1,15})_(\d{1,15})$/.exec(id)
  return m === null ? undefined : { stream: m[1]!, seq: Number(m[2]) }
}
