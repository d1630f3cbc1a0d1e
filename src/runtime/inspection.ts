/**
 * The runtime's inspection hub: one xstate inspection feed for every actor
 * the runtime creates, fanned out to whoever listens (the live inspector,
 * OpenTelemetry's transition events, tests, Stately's inspector through an
 * adapter).
 *
 * Why not xstate's `inspect` option: xstate copies every inspection event
 * (`{ ...event, rootId }`) and walks its observer set for each one, and most
 * of them are `@xstate.action` / `@xstate.microstep` events nobody here reads.
 * Instead {@link inspectRoot} replaces the root system's `_sendInspectionEvent`
 * with a dispatcher that drops, with one bit test, every kind no listener asked
 * for, and hands the rest over without a copy (it stamps `rootId` on xstate's
 * own event object). A runtime's root made while nobody listens is left alone
 * until someone does ({@link followRoot}): the hot path pays nothing till then,
 * and an inspector sees the actors created after it subscribed (start it before
 * serving to see every session; `inspect: true` in the APIs does).
 * `test/inspection.hub.test.ts` fails loudly if an xstate upgrade moves
 * `system._sendInspectionEvent`.
 *
 * Events keep xstate's shape; consumers key them by `actorRef.sessionId`, the
 * root's `rootId` and `actorRef._parent?.sessionId`, so the same code works
 * for separate root actors and for one actor tree per runtime (the root gets
 * this dispatcher, its descendants report through the root's system).
 *
 * @since 0.2.0
 */
import type { AnyActorRef, InspectionEvent, Observer } from "xstate"

export type { InspectionEvent }

/** Receives every inspection event (of the kinds it asked for) of the actors created while it listens. */
export type InspectionListener = (event: InspectionEvent) => void

/** The inspection event kinds, as xstate names them. */
export type InspectionKind = InspectionEvent["type"]

/** What a listener wants to be given (default: every kind). */
export interface InspectionInterest {
  readonly kinds?: ReadonlyArray<InspectionKind>
}

/** A subscription whose interest can change while it lives (a consumer that needs more while someone watches it). */
export interface InspectionSubscription {
  /** Change the kinds this listener is given. */
  want(kinds: ReadonlyArray<InspectionKind> | "all"): void
  /** Stop listening (idempotent). */
  (): void
}

/** Fans the runtime's inspection events out to its listeners (see {@link inspection}). */
export interface InspectionHub {
  /**
   * A function to pass as xstate's `inspect` option (for actors made with
   * xstate's own `createActor`): `undefined` while no listener is subscribed
   * (pass nothing then), a stable function otherwise.
   */
  readonly observer: InspectionListener | undefined
  /** Listen; returns the function that stops listening (idempotent). A throwing listener does not stop the others. */
  subscribe(listener: InspectionListener, interest?: InspectionInterest): InspectionSubscription
  /** Number of listeners (leak checks). */
  readonly listenerCount: number
}

const BIT: Readonly<Record<InspectionKind, number>> = {
  "@xstate.actor": 1,
  "@xstate.event": 2,
  "@xstate.snapshot": 4,
  "@xstate.microstep": 8,
  "@xstate.action": 16,
  "@xstate.transition": 32
}
const ALL = 63

const bitOf = (type: string): number => {
  // The common kinds first: a few string compares against interned constants.
  switch (type) {
    case "@xstate.snapshot":
      return 4
    case "@xstate.event":
      return 2
    case "@xstate.action":
      return 16
    case "@xstate.microstep":
      return 8
    case "@xstate.actor":
      return 1
    default:
      return ALL
  }
}

const maskOf = (kinds: ReadonlyArray<InspectionKind> | "all" | undefined): number => {
  if (kinds === undefined || kinds === "all") return ALL
  let mask = 0
  for (const k of kinds) mask |= BIT[k] ?? 0
  return mask
}

interface Entry {
  readonly listener: InspectionListener
  mask: number
}

const entries = new Set<Entry>()
/** The kinds at least one listener wants; 0 while nobody listens. */
let wanted = 0
/** `entries` as an array (walked per event; remade on each change, which is rare). */
let list: ReadonlyArray<Entry> = []

/**
 * Runtimes' roots made while nobody listened, fed to the hub by the first subscription (weakly held:
 * a runtime dropped without a shutdown is not kept alive by this).
 */
const waiting = new Set<WeakRef<AnyActorRef>>()
/** `waiting`'s size at which its dead references are next swept. */
let sweepAt = 64

const recompute = () => {
  let m = 0
  for (const e of entries) m |= e.mask
  wanted = m
  list = [...entries]
}

const call = (entry: Entry, event: InspectionEvent): void => {
  try {
    entry.listener(event)
  } catch (error) {
    // An inspector's bug must not stop a session's actor (xstate would rethrow it on the actor).
    console.error("inspection listener failed", error)
  }
}

const deliver = (event: InspectionEvent, bit: number): void => {
  const l = list
  // One listener (the inspector) is the common case: no loop.
  if (l.length === 1) return call(l[0]!, event)
  for (let i = 0; i < l.length; i++) if ((l[i]!.mask & bit) !== 0) call(l[i]!, event)
}

const fanOut: InspectionListener = (event) => {
  const bit = bitOf(event.type)
  if ((wanted & bit) !== 0) deliver(event, bit)
}

/** The process-wide (per runtime) inspection hub. */
export const inspection: InspectionHub = {
  get observer() {
    return entries.size === 0 ? undefined : fanOut
  },
  subscribe(listener, interest) {
    // One entry per subscription, so one function subscribed twice is removed independently.
    const entry: Entry = { listener, mask: maskOf(interest?.kinds) }
    entries.add(entry)
    recompute()
    if (waiting.size !== 0) feedWaiting()
    const stop = (() => {
      if (entries.delete(entry)) recompute()
    }) as InspectionSubscription
    stop.want = (kinds) => {
      entry.mask = maskOf(kinds)
      if (entries.has(entry)) recompute()
    }
    return stop
  },
  get listenerCount() {
    return entries.size
  }
}

/** `{ inspect }` when someone listens, `{}` otherwise: spread into xstate `createActor` options. */
export const inspectOption = (): { readonly inspect?: InspectionListener } => {
  const observer = inspection.observer
  return observer === undefined ? {} : { inspect: observer }
}

/** The part of xstate's actor system the dispatcher replaces (not in its public type). */
interface InspectableSystem {
  _sendInspectionEvent: (event: { type: string; rootId?: string }) => void
  inspect: (observer: Observer<InspectionEvent> | ((event: InspectionEvent) => void)) => { unsubscribe(): void }
}

/** The event of an actor's first snapshot, as xstate names it: what a state seen late is given (nothing happened since it was seen). */
export const INIT_EVENT: { readonly type: "xstate.init" } = { type: "xstate.init" }

/** Marks the dispatcher functions (a system whose `_sendInspectionEvent` has it is fed already): no per-root WeakSet. */
const DISPATCHER: unique symbol = Symbol("mcp-actors inspection dispatcher")

const feedWaiting = (): void => {
  for (const ref of waiting) {
    const root = ref.deref()
    // Once in place the dispatcher stays (it drops everything while nobody listens): one feed per root.
    if (root !== undefined && root.getSnapshot().status === "active") inspectRoot(root)
  }
  waiting.clear()
}

/**
 * Feed a runtime's root (and so every actor of its tree, whatever made it) to the hub from the first
 * subscription on: now if someone listens, else when someone does. Why here and not at each new
 * connection, which it was: an HTTP endpoint's sessions are made under its listener, with no new
 * connection node, so an inspector started after the endpoint saw none of them.
 */
export const followRoot = (root: AnyActorRef): void => {
  if (entries.size !== 0) return inspectRoot(root)
  waiting.add(new WeakRef(root))
  if (waiting.size < sweepAt) return
  for (const ref of waiting) if (ref.deref() === undefined) waiting.delete(ref)
  sweepAt = Math.max(64, waiting.size * 2)
}

/**
 * Feed `root`'s actor system (the root and every descendant) to the hub, if
 * someone listens now; idempotent (see {@link followRoot}). Observers given to
 * xstate (the `inspect` option, or `system.inspect`) still get every event,
 * through xstate's own path.
 */
const inspectRoot = (root: AnyActorRef): void => {
  if (entries.size === 0) return
  install(root, (root as { options?: { inspect?: unknown } }).options?.inspect === undefined ? 0 : 1, true)
}

/**
 * For a root about to be constructed, while someone listens: an `inspect` option that hands the
 * hub what the constructor itself sends (the root's `@xstate.actor`, and children it invokes in its
 * initial state, such as a client session's `requests`), then `attach` (call it right after the
 * constructor) puts the dispatcher in place. `undefined` while nobody listens. `user` is the caller's
 * own `inspect` option, which keeps getting every event.
 */
export const inspectionBoot = (user: unknown): { readonly observer: (event: InspectionEvent) => void; attach(root: AnyActorRef): void } | undefined => {
  if (entries.size === 0) return undefined
  let attached = false
  const forward = typeof user === "function" ? (user as (e: InspectionEvent) => void) : (user as Partial<Observer<InspectionEvent>> | undefined)?.next?.bind(user)
  return {
    observer: (event) => {
      if (!attached) fanOut(event)
      forward?.(event)
    },
    attach: (root) => {
      attached = true
      install(root, forward === undefined ? 0 : 1, false)
    }
  }
}

const install = (root: AnyActorRef, observers: number, announce: boolean): void => {
  const system = root.system as unknown as InspectableSystem
  const original = system._sendInspectionEvent
  if (typeof original !== "function") throw new Error("inspectRoot: xstate's system._sendInspectionEvent moved (xstate upgrade?)")
  if ((original as { [DISPATCHER]?: true })[DISPATCHER] === true) return
  const rootId = root.sessionId
  // Observers given to xstate directly: while there are any, xstate's path runs too. The `inspect`
  // option registers one in the constructor (before this), so it counts as one from the start.
  let ownObservers = observers
  const inspect = system.inspect
  system.inspect = (observer) => {
    ownObservers++
    const sub = inspect(observer)
    let open = true
    return {
      unsubscribe: () => {
        if (open) {
          open = false
          ownObservers--
        }
        sub.unsubscribe()
      }
    }
  }
  const dispatch = (event: { type: string; rootId?: string }) => {
    if (ownObservers !== 0) original(event)
    const bit = bitOf(event.type)
    if ((wanted & bit) === 0) return
    // xstate made this object for this call alone: stamped, not copied.
    event.rootId = rootId
    deliver(event as InspectionEvent, bit)
  }
  ;(dispatch as { [DISPATCHER]?: true })[DISPATCHER] = true
  system._sendInspectionEvent = dispatch
  // The root's own `@xstate.actor` was sent by its constructor, before the dispatcher was in place; and the
  // state it is in (a runtime's root is followed from the first listener on, long after it started).
  if (!announce) return
  if ((wanted & 1) !== 0) deliver({ type: "@xstate.actor", actorRef: root, rootId } as InspectionEvent, 1)
  if ((wanted & 4) !== 0) deliver({ type: "@xstate.snapshot", actorRef: root, rootId, event: INIT_EVENT, snapshot: root.getSnapshot() } as InspectionEvent, 4)
}
