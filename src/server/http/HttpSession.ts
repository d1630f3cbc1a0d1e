/**
 * One legacy-era Streamable HTTP session: a {@link ServerSession} (whose chart
 * owns the lifecycle) plus what only HTTP has — which stream each outgoing
 * message goes to, the standalone GET stream, and the resumption state.
 *
 * Routing (2025-11-25/basic/transports.mdx:L133-L190): a message related to a
 * client request goes on that request's POST exchange (or, once the client
 * lost it, into the event store for a `Last-Event-ID` resume); an unrelated
 * one goes on the standalone GET stream. Never on two streams.
 *
 * Ending the session (DELETE, idle, handshake timeout, shutdown) runs
 * {@link HttpSession.sessionReleased}: waiting requests are answered with an error,
 * every stream of the session ends, its stored events are freed, and the
 * server forgets it.
 */
import type { ServerResponse } from "node:http"
import type { ClearingMap } from "../../protocol/ClearingMap.ts"
import { ErrorCode, type RpcErrorObject, rpcError } from "../../protocol/errors.ts"
import { encode, type JsonRpcMessage, type RequestId } from "../../protocol/jsonrpc.ts"
import { supersedingKey } from "../../protocol/supersedingKey.ts"
import type { SessionEnd } from "../../runtime/SessionHandle.ts"
import type { McpServer } from "../McpServer.ts"
import { type PersistedServerSession, ServerSession, type ServerSessionOptions, type ServerSessionOwner } from "../ServerSession.ts"
import { emptyTable, ownTable } from "../../runtime/EmptyTable.ts"
import type { Limited } from "../SessionLimiter.ts"
import { type EventStore, parseEventId } from "../../transports/http/EventStore.ts"
import type { Exchange, ExchangeOwner } from "./Exchange.ts"
import { type SseHub, SseStream, type SseStreamOptions } from "../../transports/http/SseStream.ts"
import { HEADER_SESSION_ID, writeEmpty } from "../../transports/http/wire.ts"

/** What a session needs from the server that owns it. */
export interface HttpSessionHost {
  readonly hub: SseHub
  readonly eventStore: EventStore | undefined
  readonly retryMs: number
  readonly sseMaxDurationMs: number
  readonly maxBufferedBytes: number
  /** The session ended: forget it. */
  released(session: HttpSession, end: SessionEnd): void
  /** The session left its handshake (admission control stops counting it there). */
  ready(session: HttpSession): void
}

export type HttpSessionOptions = Omit<ServerSessionOptions, "transport" | "send" | "onRelease" | "onReady" | "id" | "restore">

/**
 * A hibernated HTTP session as plain data (survives `JSON.stringify`): the session's
 * persisted chart and state, and the principal it is bound to. Open streams and stored
 * events are not kept: a client resumes by its next POST or GET on the same session id.
 */
export interface PersistedHttpSession extends PersistedServerSession {
  readonly principal?: string
}

/** The standalone GET stream's number in event ids; POST streams count from 1. */
const STANDALONE = "0"

/** Priming events carry empty data, which clients older than 2025-11-25 may try to parse ([SDK] sends them from 2025-11-25 on). */
const primesFor = (version: string | undefined): boolean => version !== undefined && version >= "2025-11-25"

/** An HTTP session's messages go through its {@link ServerSessionOwner} methods, never `send`. */
const ownerSends = (): void => {
  throw new Error("mcp-actors: an HTTP session's messages go through HttpSession.deliver")
}

/**
 * The server session options of every HTTP session made with `options`: one
 * object per server (not a copy per session), since the per-session parts are
 * the {@link HttpSession}'s own methods.
 */
const shared = new WeakMap<HttpSessionOptions, ServerSessionOptions>()
const serverSessionOptions = (options: HttpSessionOptions): ServerSessionOptions => {
  let o = shared.get(options)
  if (o === undefined) shared.set(options, (o = { ...options, transport: "http", send: ownerSends }))
  return o
}

export class HttpSession implements ExchangeOwner, Limited, ServerSessionOwner {
  readonly session: ServerSession
  readonly id: string
  /** Who initialized the session (from the auth hook); every later request must come from the same principal. */
  readonly principal: string | undefined
  /**
   * One single-request exchange waiting for its response, outside `table`: nearly every
   * session has at most one request at a time, and a `Map` set, get and delete per request
   * (with the table's shrink when it empties) was a measurable share of a call.
   */
  private soleId: RequestId | undefined
  private soleEx: Exchange | undefined
  /** The other exchanges waiting for a response, by client request id (the shared empty table while none). */
  private table: ClearingMap<RequestId, Exchange> = emptyTable()
  /** The exchange waiting for the response to request `id`, if any. */
  exchangeFor(id: RequestId): Exchange | undefined {
    return this.soleEx !== undefined && this.soleId === id ? this.soleEx : this.table.get(id)
  }
  /** How many request ids wait for a response on an exchange. */
  get exchangeCount(): number {
    return (this.soleEx === undefined ? 0 : 1) + this.table.size
  }
  /** `id` no longer routes to an exchange. */
  private forget(id: RequestId): void {
    if (this.soleEx !== undefined && this.soleId === id) {
      this.soleEx = undefined
      this.soleId = undefined
    } else this.table.delete(id)
  }
  /** Unfinished POST streams by stream number, for `Last-Event-ID` resumption (made on the first). */
  private streams: ClearingMap<string, Exchange> = emptyTable()
  standalone: SseStream | undefined
  /** Set once a GET stream was opened: unrelated messages are kept for its resumption from then on. */
  private standaloneWanted = false
  private nextStream = 1
  private seq = 0
  private readonly host: HttpSessionHost
  /** The exchange carrying `initialize`, until it is answered. */
  initExchange: Exchange | undefined
  ended = false
  /**
   * Takes it out of the server's `registry` option, when it is released. Why on the session and not in a
   * table of the endpoint's: a long-lived `Map` of one entry per churned session keeps the sessions
   * reachable for the young GC through its dropped hash tables (`src/protocol/ClearingMap.ts`).
   */
  unregister: (() => void) | undefined = undefined
  /** DELETE requests waiting for the session to end (almost always one): answered 200 once it has. */
  private deletes: ServerResponse | Array<ServerResponse> | undefined

  constructor(server: McpServer, host: HttpSessionHost, principal: string | undefined, options: HttpSessionOptions, restore?: PersistedHttpSession) {
    this.host = host
    this.principal = principal
    // Identity is per session (a copy then); otherwise every session of the server shares one options object.
    const base = options.identity === undefined ? serverSessionOptions(options) : { ...options, transport: "http" as const, send: ownerSends }
    this.session = new ServerSession(server, restore === undefined ? base : { ...base, restore }, this)
    this.id = this.session.id
  }

  // ------------------------------------------------------------ outgoing

  /** @internal (ServerSessionOwner) */
  sessionReady(): void {
    this.host.ready(this)
  }

  /** @internal (ServerSessionOwner) Route one outgoing message to its stream. */
  deliver(message: JsonRpcMessage, related: RequestId | undefined): void {
    // A late send (e.g. a response that waited for the progress barrier) must not revive a released session's state.
    if (this.ended) return
    if (related !== undefined) {
      const ex = this.exchangeFor(related)
      if (ex !== undefined) {
        const answers = !("method" in message) && message.id === related ? related : undefined
        if (answers !== undefined && ex === this.initExchange) this.answeredInitialize(ex, message)
        // Forgotten only once delivered: if encoding throws, the -32603 that follows still finds the exchange.
        ex.deliver(message, answers)
        if (answers !== undefined) this.forget(related)
        return
      }
    }
    this.sendStandalone(message)
  }

  private answeredInitialize(ex: Exchange, message: JsonRpcMessage): void {
    this.initExchange = undefined
    if ("result" in message) {
      // The session id is assigned on the response carrying the InitializeResult (transports.mdx:L192-L220).
      ex.headers = { [HEADER_SESSION_ID]: this.id }
    } else {
      // A failed initialize leaves no session behind.
      queueMicrotask(() => void this.session.close({ drainMs: 0, reason: "initialize failed" }))
    }
  }

  private sendStandalone(message: JsonRpcMessage): void {
    if (this.standalone === undefined && !this.standaloneWanted) return
    const data = encode(message)
    const id = this.recordOn(STANDALONE, data, supersedingKey(message))
    this.standalone?.event(id, data)
  }

  /** `supersedes`: the message's key as the store's `StoredEvent.supersedes` (decided here, where the message is; the store never reads `data`). */
  private recordOn(stream: string, data: string, supersedes: string | undefined): string | undefined {
    const store = this.host.eventStore
    if (store === undefined) return undefined
    const seq = ++this.seq
    const id = `${stream}_${seq}`
    store.append(this.id, { id, stream, seq, data, supersedes })
    return id
  }

  private mintId(stream: string): string {
    return `${stream}_${++this.seq}`
  }

  // ------------------------------------------------------------ ExchangeOwner

  streamOptions(ex: Exchange, forcePriming: boolean): SseStreamOptions {
    const store = this.host.eventStore
    if (store === undefined) return { maxBufferedBytes: this.host.maxBufferedBytes }
    const key = String(this.nextStream++)
    ex.streamKey = Number(key)
    ;(this.streams = ownTable(this.streams)).set(key, ex)
    const priming = forcePriming || primesFor(this.session.protocolVersion)
    return {
      retryMs: this.host.retryMs,
      ...(priming ? { primingId: this.mintId(key) } : {}),
      maxDurationMs: this.host.sseMaxDurationMs,
      maxBufferedBytes: this.host.maxBufferedBytes
    }
  }

  record(ex: Exchange, data: string, supersedes: string | undefined): string | undefined {
    return ex.streamKey === 0 ? undefined : this.recordOn(String(ex.streamKey), data, supersedes)
  }

  jsonStatus(): number {
    return 200
  }

  finished(ex: Exchange): void {
    if (ex.streamKey !== 0) this.streams.delete(String(ex.streamKey))
    if (ex === this.initExchange) this.initExchange = undefined
  }

  detached(): void {
    // A dropped connection is not a cancellation (transports.mdx:L86-L131): the request keeps running,
    // its messages go to the event store until the client resumes.
  }

  // ------------------------------------------------------------ incoming

  /** Register a POST exchange for its request ids (already checked not to be in flight). */
  track(ex: Exchange): void {
    const sole = ex.sole
    if (sole !== undefined && this.soleEx === undefined) {
      this.soleId = sole
      this.soleEx = ex
      return
    }
    const table = (this.table = ownTable(this.table))
    if (sole !== undefined) table.set(sole, ex)
    else ex.forEachAwaiting((id) => table.set(id, ex))
  }

  /** Answer what `ex` still waits for with `error` and stop routing its ids to it (a failure on the way in). */
  abandon(ex: Exchange, error: RpcErrorObject): void {
    ex.forEachAwaiting((id) => {
      if (this.exchangeFor(id) === ex) this.forget(id)
    })
    ex.fail(error)
  }

  /**
   * After the session saw `notifications/cancelled` for `id`: if the exchange
   * is still waiting, the session aborted the handler and will send nothing,
   * so the exchange ends without that response.
   */
  cancelled(id: RequestId): void {
    const ex = this.exchangeFor(id)
    if (ex === undefined) return
    this.forget(id)
    ex.cancel(id)
  }

  private streamOptionsFor(primingId: string | undefined): SseStreamOptions {
    return {
      retryMs: this.host.retryMs,
      ...(primingId === undefined ? {} : { primingId }),
      maxDurationMs: this.host.sseMaxDurationMs,
      maxBufferedBytes: this.host.maxBufferedBytes
    }
  }

  /** Open the standalone GET stream; false when one is already open (409). */
  openStandalone(res: ServerResponse): boolean {
    if (this.standalone !== undefined) return false
    this.standaloneWanted = true
    const priming = this.host.eventStore !== undefined && primesFor(this.session.protocolVersion)
    this.attachStandalone(res, priming ? this.mintId(STANDALONE) : undefined)
    return true
  }

  private attachStandalone(res: ServerResponse, primingId: string | undefined): SseStream {
    const stream: SseStream = new SseStream(res, this.host.hub, {
      ...this.streamOptionsFor(primingId),
      onDetach: () => {
        if (this.standalone === stream) this.standalone = undefined
      }
    })
    this.standalone = stream
    return stream
  }

  /**
   * `GET` + `Last-Event-ID`: replay what the client missed on that stream only
   * (transports.mdx:L164-L190), then keep the stream going if it is not over.
   * Returns the HTTP status to answer when no stream was opened.
   */
  resume(res: ServerResponse, lastEventId: string): 200 | 204 | 400 | 409 {
    const parsed = parseEventId(lastEventId)
    const store = this.host.eventStore
    if (parsed === undefined || store === undefined) return 400
    const { stream, seq } = parsed
    if (stream === STANDALONE) {
      if (this.standalone !== undefined) return 409
      this.standaloneWanted = true
      const s = this.attachStandalone(res, undefined)
      for (const e of store.after(this.id, stream, seq)) s.event(e.id, e.data)
      return 200
    }
    if (Number(stream) >= this.nextStream) return 400
    const ex = this.streams.get(stream)
    if (ex !== undefined && ex.sse !== undefined) return 409
    const missed = store.after(this.id, stream, seq)
    if (ex === undefined && missed.length === 0) {
      // The stream is over and the client has everything: 204 tells it to stop reconnecting.
      return 204
    }
    const s = new SseStream(res, this.host.hub, {
      ...this.streamOptionsFor(undefined),
      onDetach: () => {
        if (ex !== undefined && ex.sse === s) {
          ex.sse = undefined
          ex.res = undefined
        }
      }
    })
    for (const e of missed) s.event(e.id, e.data)
    if (ex === undefined || ex.done) s.end()
    else ex.attach(s)
    return 200
  }

  /** Test hook and polling: drop the connection of the POST stream answering `requestId` (it stays resumable). */
  dropStream(requestId: RequestId): boolean {
    return this.exchangeFor(requestId)?.dropConnection() ?? false
  }

  /** Drop the standalone GET stream's connection (the client may resume it). */
  dropStandalone(): boolean {
    const s = this.standalone
    if (s === undefined) return false
    s.drop()
    return true
  }

  // ------------------------------------------------------------ hibernation

  /**
   * The server's sweeper: hibernate the session's chart when nothing was in flight for
   * `idleMs`, and give back the tables it no longer needs (an idle session owns no Map).
   */
  hibernateIfIdleFor(idleMs: number): boolean {
    const slept = this.session.hibernateIfIdleFor(idleMs)
    if (this.session.isHibernated) {
      // Empty tables only: dropping them changes nothing but the bytes.
      if (this.table.size === 0) this.table = emptyTable()
      if (this.streams.size === 0) this.streams = emptyTable()
    }
    return slept
  }

  /**
   * Hibernate (if not yet) and return this session as plain data, for a fresh server's
   * `restoreSessions`. Undefined while it has work or an open stream (a client is listening).
   */
  persist(): PersistedHttpSession | undefined {
    if (this.ended || this.exchangeCount > 0 || this.standalone !== undefined) return undefined
    const p = this.session.persist()
    if (p === undefined) return undefined
    return this.principal === undefined ? p : { ...p, principal: this.principal }
  }

  // ------------------------------------------------------------ limits

  /** Idle since (admission control): a session with an open GET stream has a client listening, so it counts as busy. */
  get idleSince(): number | undefined {
    return this.standalone !== undefined ? undefined : this.session.idleSince
  }

  /** Make room for others: the session ends now; the client's next request gets 404 (and it may re-initialize). */
  evict(reason: string): void {
    this.session.evict(reason)
  }

  // ------------------------------------------------------------ end

  /** @internal (ServerSessionOwner) The session ended: answer what waits, end every stream, forget it. */
  sessionReleased(end: SessionEnd): void {
    if (this.ended) return
    this.ended = true
    if (this.exchangeCount > 0) {
      const error = rpcError(ErrorCode.ConnectionClosed, `Session closed: ${end.reason}`)
      const waiting = new Set(this.table.values())
      if (this.soleEx !== undefined) waiting.add(this.soleEx)
      for (const ex of waiting) ex.fail(error)
    }
    this.soleEx = undefined
    this.soleId = undefined
    this.table = emptyTable()
    this.streams = emptyTable()
    this.initExchange = undefined
    const s = this.standalone
    this.standalone = undefined
    s?.end()
    this.host.eventStore?.dropSession(this.id)
    this.host.released(this, end)
    const deletes = this.deletes
    if (deletes !== undefined) {
      this.deletes = undefined
      if (Array.isArray(deletes)) for (const res of deletes) writeEmpty(res, 200)
      else writeEmpty(deletes, 200)
    }
  }

  /**
   * DELETE: the client ends the session (transports.mdx:L192-L220); `res` is answered 200 once
   * it has ended (in-flight work cancelled, streams closed, the server has forgotten it). A
   * field, not a promise on `session.ended`: no promise, closure and microtask per churned session.
   */
  terminate(res: ServerResponse): void {
    const d = this.deletes
    this.deletes = d === undefined ? res : Array.isArray(d) ? [...d, res] : [d, res]
    this.session.transportClosed({ expected: true, reason: "terminated by the client (DELETE)" })
  }
}
