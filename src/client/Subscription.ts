/**
 * One `subscriptions/listen` of a modern client: the `listenStream` chart run
 * as an actor, plus what the chart leaves to the runtime — a new request id per
 * attempt, routing the acknowledgement, notifications and the final response of
 * the current id, and telling the caller.
 *
 * The client (`ModernClient.listen`) owns the wire; this class only asks it to
 * send or cancel a listen request (`SubscriptionWire`) and is fed what comes
 * back for the id it currently listens on. Notifications of an earlier attempt
 * (an older id) are not routed here any more, so a reconnect never mixes
 * streams.
 */
import { randomInt } from "node:crypto"
import type { Actor, AnyActorRef } from "xstate"
import { LISTEN_JITTER, type ListenStreamInput, listenStreamMachine } from "../../machines/listenStream.ts"
import type { JsonRpcMessage, JsonRpcNotification, RequestId } from "../protocol/jsonrpc.ts"
import { ACKNOWLEDGED_METHOD, type RefusedSubscriptions, refusedSubscriptionsOf, type SubscriptionFilter } from "../protocol/subscriptions.ts"
import { createLeanActor } from "../runtime/ActorScheduler.ts"
import type { Clock } from "../protocol/clock.ts"
import { ListenFailed } from "./modernErrors.ts"

/**
 * Where a subscription is: asking, listening, waiting to reconnect (`waiting`), or over
 * (`closed` by us, `completed` by the server, `failed`, or `ended` with its client).
 */
export type SubscriptionState = "subscribing" | "listening" | "waiting" | "closed" | "completed" | "failed" | "ended"

/** How a subscription ended: `closed` by the caller, `completed` by the server, `failed`, or `ended` with the client. */
export interface SubscriptionEnd {
  readonly state: "closed" | "completed" | "failed" | "ended"
  readonly reason: string | undefined
}

/** Options of `ModernClient.listen`: callbacks, and the reconnection policy of the `listenStream` chart. */
export interface ListenOptions extends Omit<ListenStreamInput, "jitter" | "seed"> {
  /** Each change notification of this stream (`_meta` carries the subscription id). */
  readonly onNotification?: (notification: JsonRpcNotification) => void
  /** Each state change (subscribing → listening → waiting → …). */
  readonly onStateChange?: (state: SubscriptionState) => void
  /**
   * Spread reconnections over [½, 1½] × the backoff (`LISTEN_JITTER`, the one `jittered`
   * formula), so that the clients of a restarted server do not all come back in the
   * same instant. Default true.
   */
  readonly jitter?: boolean
}

/** What a subscription needs from its client. */
export interface SubscriptionWire {
  /** A fresh request id (unique among the client's in-flight requests). */
  readonly nextId: () => RequestId
  /** Send `subscriptions/listen` with this id and filter (the client adds `_meta`); the client routes its traffic here from now on. */
  readonly sendListen: (id: RequestId, filter: SubscriptionFilter, subscription: Subscription) => void
  /** Cancel the listen request `id` and stop routing it. */
  readonly cancel: (id: RequestId, reason: string) => void
  /** Stop routing `id` (it was answered, failed or torn down by the server: nothing to cancel). */
  readonly forget: (id: RequestId) => void
  /** This subscription is over: forget it. */
  readonly done: (subscription: Subscription) => void
  readonly clock?: Clock
  /** The client's chart: the subscription's chart is its child in the runtime's tree. */
  readonly parent?: AnyActorRef
}

const runtimeListenMachine = listenStreamMachine.provide({
  actions: {
    sendListen: ({ self }) => runtimes.get(self)?.sendListen(),
    cancelListen: ({ self }) => runtimes.get(self)?.cancelListen()
  }
})
const runtimes = new WeakMap<object, Subscription>()

/**
 * One open `subscriptions/listen` of a `ModernClient` (from `listen`): reconnects with
 * backoff when the stream drops, and says what the server agreed to deliver (`acknowledged`).
 */
export class Subscription {
  /** The filter asked for; `filter` is what the server agreed to. */
  readonly requested: SubscriptionFilter
  /** Resolves with the first acknowledged filter (URIs refused: `refused`); rejects with `ListenFailed` if the stream ends before. */
  readonly acknowledged: Promise<SubscriptionFilter>
  /** Resolves once the subscription is over (never rejects). */
  readonly ended: Promise<SubscriptionEnd>
  private readonly wire: SubscriptionWire
  private readonly options: ListenOptions
  private readonly actor: Actor<typeof runtimeListenMachine>
  private currentId: RequestId | undefined
  private lastRefused: ReadonlyArray<RefusedSubscriptions> = []
  private lastState: SubscriptionState = "subscribing"
  private resolveAcknowledged!: (filter: SubscriptionFilter) => void
  private rejectAcknowledged!: (error: unknown) => void
  private resolveEnded!: (end: SubscriptionEnd) => void

  constructor(filter: SubscriptionFilter, wire: SubscriptionWire, options: ListenOptions = {}) {
    this.requested = filter
    this.wire = wire
    this.options = options
    this.acknowledged = new Promise((resolve, reject) => {
      this.resolveAcknowledged = resolve
      this.rejectAcknowledged = reject
    })
    this.acknowledged.catch(() => {}) // a caller that never awaits it must not see an unhandled rejection
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve))
    const { onNotification: _n, onStateChange: _s, jitter, ...policy } = options
    // The jitter's draws come from a seed in the chart's context: its delay reads nothing else.
    const input: ListenStreamInput = { ...policy, jitter: jitter === false ? 0 : LISTEN_JITTER, seed: randomInt(2 ** 31) }
    this.actor = createLeanActor(runtimeListenMachine, {
      input,
      ...(wire.clock ? { clock: wire.clock } : {}),
      ...(wire.parent ? { parent: wire.parent } : {})
    })
    runtimes.set(this.actor, this)
    this.actor.subscribe((snapshot) => this.observe(snapshot.value as SubscriptionState, snapshot.status === "done"))
    this.actor.start()
  }

  /** @internal Whether reconnection delays are jittered. */
  get jitter(): boolean {
    return this.actor.getSnapshot().context.jitter > 0
  }

  /** The id of the listen request in flight (a new one per reconnection), if any. */
  get id(): RequestId | undefined {
    return this.currentId
  }

  get state(): SubscriptionState {
    return this.actor.getSnapshot().value as SubscriptionState
  }

  /** What the server agreed to deliver (the latest acknowledgement). */
  get filter(): SubscriptionFilter | undefined {
    return this.actor.getSnapshot().context.acknowledged as SubscriptionFilter | undefined
  }

  /**
   * The `resourceSubscriptions` the server refused in the latest acknowledgement (left out of
   * `filter`), each group with its error: what a legacy `resources/subscribe` of those URIs would get
   * (a policy's -32003, a rate limit, the session's cap). Read from the acknowledgement's
   * `_meta[META_REFUSED_SUBSCRIPTIONS]` (our servers and gateway send it; malformed entries are
   * ignored); empty when there are none or the server does not say. Set when `acknowledged` resolves.
   */
  get refused(): ReadonlyArray<RefusedSubscriptions> {
    return this.lastRefused
  }

  /** Whether it has ended (see `ended`). */
  get over(): boolean {
    return this.actor.getSnapshot().status === "done"
  }

  /** Reconnections in a row so far (0 while a stream is acknowledged). */
  get attempts(): number {
    return this.actor.getSnapshot().context.attempts
  }

  /** Stop listening: the request is cancelled (HTTP: its stream closed; stdio: `notifications/cancelled`). */
  close(): void {
    this.actor.send({ type: "CLOSE" })
  }

  // ------------------------------------------------------------ from the client

  /** @internal A message for the current listen id: its acknowledgement, a notification, or its response. */
  _message(m: JsonRpcMessage): void {
    if ("method" in m) {
      if (m.method === ACKNOWLEDGED_METHOD) {
        // Only the acknowledgement the chart takes (the first of a request) replaces the refusals, as `filter`.
        if (this.state === "subscribing") this.lastRefused = refusedSubscriptionsOf(m.params)
        this.actor.send({ type: "ACKNOWLEDGED", filter: (m.params?.notifications ?? {}) as SubscriptionFilter })
        return
      }
      if (m.method === "notifications/cancelled") {
        // The server tore the stream down (the one reason it may send this, cancellation.mdx:L8-L14).
        this.detach()
        this.actor.send({ type: "LOST", reason: `the server cancelled the stream${typeof m.params?.reason === "string" ? `: ${m.params.reason}` : ""}` })
        return
      }
      if (!("id" in m)) this.options.onNotification?.(m)
      return
    }
    this.detach()
    if ("error" in m) this.actor.send({ type: "REJECTED", reason: `${m.error.code} ${m.error.message}` })
    else this.actor.send({ type: "COMPLETED" })
  }

  /** @internal The wire failed the current listen request: a JSON-RPC error is final, anything else a lost stream. */
  _failed(error: Error, rejected: boolean): void {
    this.detach()
    this.actor.send(rejected ? { type: "REJECTED", reason: error.message } : { type: "LOST", reason: error.message })
  }

  /** @internal The client's wire is gone. */
  _transportClosed(reason: string): void {
    this.currentId = undefined
    this.actor.send({ type: "TRANSPORT_CLOSED", reason })
  }

  // ------------------------------------------------------------ chart actions

  /** @internal */
  sendListen(): void {
    const id = this.wire.nextId()
    this.currentId = id
    this.wire.sendListen(id, this.requested, this)
  }

  /** @internal */
  cancelListen(): void {
    const id = this.currentId
    this.currentId = undefined
    if (id !== undefined) this.wire.cancel(id, "subscription closed")
  }

  /** The current request is over (answered or failed): nothing to cancel, nothing more to route. */
  private detach(): void {
    const id = this.currentId
    this.currentId = undefined
    if (id !== undefined) this.wire.forget(id)
  }

  private observe(state: SubscriptionState, done: boolean): void {
    if (state !== this.lastState) {
      this.lastState = state
      if (state === "listening") this.resolveAcknowledged(this.filter ?? {})
      this.options.onStateChange?.(state)
    }
    if (!done) return
    const reason = this.actor.getSnapshot().context.reason
    const end: SubscriptionEnd = { state: state as SubscriptionEnd["state"], reason }
    this.rejectAcknowledged(new ListenFailed({ state: end.state, message: `subscriptions/listen ended (${end.state}) before it was acknowledged${reason ? `: ${reason}` : ""}` }))
    this.wire.done(this)
    this.resolveEnded(end)
  }
}
