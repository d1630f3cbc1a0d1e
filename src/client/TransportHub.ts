/**
 * One message transport (a stdio child, a socket) shared, one after the other
 * or briefly side by side, by the parts of a dual-era client: the era probe
 * (`server/discover`), then a modern client or a legacy session — and, when a
 * cached verdict turns out wrong, the other one. A transport can be started
 * only once and its child process must survive the hand-over, so the hub
 * starts it once and hands out `Transport` views.
 *
 * Routing. Each view says which request ids are its own (`owns`): the probe
 * uses `probe-N` strings, the modern client `mN` strings, the legacy session
 * numbers, so id spaces never overlap. A response goes to the view owning its
 * id, `notifications/progress` to the view owning its token (tokens are
 * request ids), and everything else (server requests, other notifications,
 * unreadable frames) to the primary view, the client currently in charge.
 * With a single view attached (the steady state) frames pass through
 * untouched, without being parsed here. Unclaimed frames that arrive while
 * there is no primary (during the probe, between the probe and the client)
 * are kept, up to a limit, for the next primary.
 *
 * Closing. A view that is not `committed` only detaches when its user closes
 * it (a legacy session whose `initialize` was rejected closes its transport,
 * but the probe that follows needs the same child). A committed view closes the
 * whole transport, like the plain transport would.
 */
import type { RequestId } from "../protocol/jsonrpc.ts"
import type { JsonRpcMessage } from "../protocol/jsonrpc.ts"
import type { Transport, TransportClosed, TransportHandlers } from "../transports/Transport.ts"

export interface HubViewOptions {
  /** Request ids (and progress tokens) this view issued. */
  readonly owns: (id: RequestId) => boolean
  /** Receives unclaimed messages (and the backlog). Default true. */
  readonly primary?: boolean
  /** Closing the view closes the transport (otherwise it only detaches). Default false. */
  readonly committed?: boolean
}

export interface HubView extends Transport {
  /** Make `close()` close the shared transport from now on (`false`: only detach again). */
  commit(on?: boolean): void
  /** Stop receiving; the view's `onClose` is called (`reason: "handed off"`). Idempotent. */
  detach(reason?: string): void
  readonly attached: boolean
}

/** Frames kept while no view is attached (a misbehaving server cannot grow it without bound). */
const BACKLOG_LIMIT = 256

interface ViewState {
  readonly options: HubViewOptions
  handlers: TransportHandlers | undefined
  /** Frames for this view that arrived before it called `start()`. */
  early: Array<string>
  attached: boolean
  committed: boolean
  closedDelivered: boolean
}

export class TransportHub {
  readonly inner: Transport
  private readonly views = new Set<ViewState>()
  private primary: ViewState | undefined
  private backlog: Array<string> = []
  private closedWith: TransportClosed | undefined
  private started = false

  private readonly onEnded: ((closed: TransportClosed) => void) | undefined

  /** `onEnded`: told when the shared transport ends (the client's connection node). */
  constructor(inner: Transport, onEnded?: (closed: TransportClosed) => void) {
    this.inner = inner
    this.onEnded = onEnded
  }

  /** The transport ended (the child exited, the socket dropped). */
  get closed(): TransportClosed | undefined {
    return this.closedWith
  }

  /** Start the shared transport (once). */
  start(): void {
    if (this.started) return
    this.started = true
    this.inner.start({
      onFrame: (text) => this.route(text),
      onOversized: (bytes, edges) => {
        const target = this.primary ?? (this.views.size === 1 ? [...this.views][0] : undefined)
        target?.handlers?.onOversized(bytes, edges)
      },
      onClose: (closed) => {
        this.closedWith = closed
        this.onEnded?.(closed)
        for (const v of [...this.views]) this.end(v, closed)
      }
    })
  }

  /** A new view; it becomes the primary unless `primary: false`. */
  attach(options: HubViewOptions): HubView {
    this.start()
    const state: ViewState = { options, handlers: undefined, early: [], attached: true, committed: options.committed ?? false, closedDelivered: false }
    this.views.add(state)
    if (options.primary !== false) {
      this.primary = state
      state.early = this.backlog
      this.backlog = []
    }
    const hub = this
    const view: HubView = {
      kind: this.inner.kind,
      authoritativeLiveness: this.inner.authoritativeLiveness,
      get attached() {
        return state.attached
      },
      start(handlers) {
        if (state.handlers !== undefined) throw new Error("transport hub view: start() called twice")
        state.handlers = handlers
        if (hub.closedWith !== undefined) {
          hub.end(state, hub.closedWith)
          return
        }
        const early = state.early
        state.early = []
        for (const text of early) if (state.attached) handlers.onFrame(text)
      },
      send(message: JsonRpcMessage) {
        if (state.attached && hub.closedWith === undefined) hub.inner.send(message)
      },
      ...(this.inner.sendText === undefined ? {} : {
        sendText(text: string) {
          if (state.attached && hub.closedWith === undefined) hub.inner.sendText!(text)
        }
      }),
      close() {
        if (state.committed && state.attached) return hub.close()
        view.detach("closed")
        return Promise.resolve()
      },
      commit(on = true) {
        state.committed = on
      },
      detach(reason = "handed off") {
        if (!state.attached) return
        // Asynchronous, like a transport's own onClose after close().
        hub.detachState(state)
        queueMicrotask(() => hub.deliverClose(state, { expected: true, reason }))
      }
    }
    return view
  }

  /** Close the shared transport (every view gets its `onClose`). */
  close(): Promise<void> {
    this.start()
    return this.inner.close()
  }

  private detachState(state: ViewState): void {
    state.attached = false
    this.views.delete(state)
    if (this.primary === state) this.primary = undefined
  }

  private end(state: ViewState, closed: TransportClosed): void {
    this.detachState(state)
    this.deliverClose(state, closed)
  }

  private deliverClose(state: ViewState, closed: TransportClosed): void {
    if (state.closedDelivered || state.handlers === undefined) return
    state.closedDelivered = true
    state.handlers.onClose(closed)
  }

  private deliver(state: ViewState, text: string): void {
    if (state.handlers === undefined) state.early.push(text)
    else state.handlers.onFrame(text)
  }

  private route(text: string): void {
    const primary = this.primary
    // Steady state: the client in charge is alone; nothing to route.
    if (this.views.size === 1 && primary !== undefined) return this.deliver(primary, text)
    const target = (this.views.size > 0 ? this.ownerOf(text) : undefined) ?? primary
    if (target !== undefined) this.deliver(target, text)
    else if (this.backlog.length < BACKLOG_LIMIT) this.backlog.push(text)
  }

  /** The view that issued the request this frame answers (or reports progress for). */
  private ownerOf(text: string): ViewState | undefined {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return undefined
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
    const m = value as { method?: unknown; id?: unknown; params?: { progressToken?: unknown } }
    let key: unknown
    if (m.method === undefined) key = m.id
    else if (m.method === "notifications/progress") key = m.params?.progressToken
    else return undefined
    if (typeof key !== "string" && typeof key !== "number") return undefined
    for (const v of this.views) if (v.options.owns(key)) return v
    return undefined
  }
}
