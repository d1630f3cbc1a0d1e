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

export interface StoredEvent {
  /** `<stream>_<seq>`, as sent in the SSE `id:` field. */
  readonly id: string
  readonly stream: string
  /** Per-session, strictly increasing. */
  readonly seq: number
  /** The serialized JSON-RPC message (the SSE `data:` field). */
  readonly data: string
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
  /** Bytes of `data` kept per session (UTF-16 length, an upper bound's proxy). Default 1 MiB. */
  readonly maxBytesPerSession?: number
}

interface Log {
  events: Array<StoredEvent>
  /** Index of the oldest live event in `events` (evicted ones before it are garbage). */
  head: number
  bytes: number
}

/**
 * The default store: a bounded ring per session. Bounded so that a client that
 * never resumes (or a session whose GET stream is gone) cannot grow memory:
 * once full, the oldest events of that session are dropped, and a late resume
 * simply gets less.
 */
export const makeMemoryEventStore = (options: MemoryEventStoreOptions = {}): EventStore => {
  const maxEvents = Math.max(1, options.maxEventsPerSession ?? 1000)
  const maxBytes = Math.max(1, options.maxBytesPerSession ?? 1024 * 1024)
  const logs = new Map<string, Log>()

  return {
    append(sessionId, event) {
      let log = logs.get(sessionId)
      if (log === undefined) {
        log = { events: [], head: 0, bytes: 0 }
        logs.set(sessionId, log)
      }
      log.events.push(event)
      log.bytes += event.data.length
      while (log.events.length - log.head > maxEvents || (log.bytes > maxBytes && log.events.length - log.head > 1)) {
        log.bytes -= log.events[log.head]!.data.length
        log.head++
      }
      // Compact once the garbage prefix dominates, so eviction stays O(1) amortized.
      if (log.head > 64 && log.head * 2 > log.events.length) {
        log.events = log.events.slice(log.head)
        log.head = 0
      }
    },
    after(sessionId, stream, seq) {
      const log = logs.get(sessionId)
      if (log === undefined) return []
      const out: Array<StoredEvent> = []
      for (let i = log.head; i < log.events.length; i++) {
        const e = log.events[i]!
        if (e.stream === stream && e.seq > seq) out.push(e)
      }
      return out
    },
    dropSession(sessionId) {
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
