/**
 * A lean replacement for the scheduler of an xstate actor system (the part that
 * runs `after` delays and delayed `sendTo`/`raise`).
 *
 * Why: xstate 5's scheduler keys every pending delay as `"<sessionId>.<delayId>"`
 * in two plain objects. Session ids come from a process-wide counter, so every
 * actor writes property names no other actor uses, and V8 builds a new hidden
 * class for each one (then collects it). With one short-lived actor per HTTP
 * session that was the single most expensive frame of session churn (about 7 % of
 * the server's CPU, plus the GC it causes). Here delays live in a `Map` per
 * actor, keyed by the delay id alone.
 *
 * `ActorSystem.scheduler` is part of xstate's public `ActorSystem` type; what this
 * gives up is `system.getSnapshot()._scheduledEvents` (always empty here), which we
 * never use: a hibernated session re-arms its timers on `RESUMED` instead.
 *
 * It still pays (2026-12: 15–17 µs less CPU per churned session, 0.71–0.77× of
 * xstate's scheduler in `bench/actorScheduler.ts`). It relies on xstate internals
 * (`system._clock`, `system._relay`, a writable `system.scheduler`; for the tree,
 * `Actor._stop()`, `actor._parent` and `StateNode.transitions`):
 * `test/runtime.actorScheduler.test.ts` fails loudly when an upgrade moves them.
 * The fix proposed upstream is `docs/upstream/xstate-scheduler.patch`.
 *
 * @since 0.1.0
 */
import { Actor, type ActorOptions, type AnyActorLogic, type AnyActorRef, type EventObject } from "xstate"
import { inspectionBoot } from "./inspection.ts"
import { systemClock } from "../protocol/clock.ts"

interface SchedulingSystem {
  readonly _clock: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void }
  scheduler: {
    schedule(source: AnyActorRef, target: AnyActorRef, event: EventObject, delay: number, id: string | undefined): void
    cancel(source: AnyActorRef, id: string): void
    cancelAll(actorRef: AnyActorRef): void
    /** The clock `source`'s timers run on (read by `machines/outboundRequests.ts`: its deadline wheel's `now`). */
    clockOf?(source: AnyActorRef): SchedulingSystem["_clock"]
  }
  /** xstate's delivery path (emits the inspection event with the right source); not in its public type. */
  _relay?: (source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject) => void
}

/** The clock an actor's own timers run on: its `clock` option, else its system's (xstate sets `actor.clock` so). */
type Clocked = AnyActorRef & { readonly clock?: SchedulingSystem["_clock"]; readonly _parent?: Clocked }

/**
 * The clock `source`'s timers run on: its own, else its nearest ancestor's.
 * xstate gives a spawned child its system's clock, so a session with a clock
 * of its own inside the runtime's shared tree would see its children's timers
 * (keepalive, requests, HTTP exchanges) run on the root's: they inherit the
 * session's instead.
 */
const clockOf = (source: Clocked, systemClock: SchedulingSystem["_clock"]): SchedulingSystem["_clock"] => {
  for (let actor: Clocked | undefined = source; actor !== undefined; actor = actor._parent) {
    const clock = actor.clock
    if (clock !== undefined && clock !== systemClock) return clock
  }
  return systemClock
}

let anonymous = 0

/**
 * An actor's pending delays, kept on the actor itself under a private symbol: one small
 * array (a session has one or two pending at a time: its handshake or idle deadline),
 * found without a lookup and gone with the actor. It replaced a `Map` from actor to a
 * `Map` of delays, which made and dropped an inner `Map` each time a session's last
 * pending delay was cancelled (three times per churned HTTP session).
 */
const TIMERS = Symbol("mcp-actors.timers")
interface Timer {
  readonly id: string
  readonly clock: SchedulingSystem["_clock"]
  handle: unknown
}
type Timed = { [TIMERS]?: Array<Timer> }

const indexOf = (own: ReadonlyArray<Timer>, id: string): number => {
  for (let i = 0; i < own.length; i++) if (own[i]!.id === id) return i
  return -1
}
const removeAt = (own: Array<Timer>, i: number): void => {
  // Order does not matter: move the last one into the hole.
  const last = own.pop()!
  if (i < own.length) own[i] = last
}

/**
 * Give `actor`'s system the lean scheduler. Call it after `createActor` and
 * before `start()`: entry delays are scheduled on start. Returns the actor.
 *
 * Timers are kept on the actor that scheduled them (a small array, see `TIMERS`),
 * so stopping one session of a tree of thousands cancels
 * its own timers without scanning the others'. Each timer runs on its source
 * actor's clock: a session created with its own clock (a test's simulated one)
 * keeps it inside the runtime's shared tree, where xstate would use the root's.
 */
export const useLeanScheduler = <A extends AnyActorRef>(actor: A): A => {
  const system = actor.system as unknown as SchedulingSystem
  const systemClock = system._clock
  const deliver = (source: AnyActorRef, target: AnyActorRef, event: EventObject) => {
    if (system._relay) system._relay(source, target, event)
    else target.send(event)
  }
  const cancel = (source: AnyActorRef, id: string) => {
    const own = (source as Timed)[TIMERS]
    if (own === undefined) return
    const i = indexOf(own, id)
    if (i === -1) return
    const timer = own[i]!
    removeAt(own, i)
    timer.clock.clearTimeout(timer.handle)
  }
  system.scheduler = {
    schedule: (source, target, event, delay, id = `anonymous.${anonymous++}`) => {
      // Re-scheduling a pending id replaces it (xstate would leave the old timer running).
      cancel(source, id)
      const clock = clockOf(source as Clocked, systemClock)
      const own = ((source as Timed)[TIMERS] ??= [])
      const timer: Timer = { id, clock, handle: undefined }
      // In the list before the clock sees it: a clock may run a 0 ms timer at once.
      own.push(timer)
      timer.handle = clock.setTimeout(() => {
        const i = own.indexOf(timer)
        if (i === -1) return // cancelled meanwhile (a clock that fires a cleared timer)
        removeAt(own, i)
        deliver(source, target, event)
      }, delay)
    },
    cancel,
    clockOf: (source) => clockOf(source as Clocked, systemClock),
    cancelAll: (actorRef) => {
      const own = (actorRef as Timed)[TIMERS]
      if (own === undefined || own.length === 0) return
      const all = own.splice(0)
      for (const timer of all) timer.clock.clearTimeout(timer.handle)
    }
  }
  return actor
}

/**
 * An actor of the runtime's tree. A child (made with `parent`) joins its
 * parent's system, so one `inspect` observer on the root sees it, and it shares
 * the root's lean scheduler; it is not listed in the parent's `children`
 * snapshot (a listener with thousands of sessions would copy that object on
 * every spawn). Its owner (the connection's `Scope`) stops it, so `stop()` is
 * allowed on a child here, where xstate reserves it for roots.
 */
class TreeActor<TLogic extends AnyActorLogic> extends Actor<TLogic> {
  override stop(): this {
    if (this._parent === undefined) return super.stop()
    // `_stop` is what xstate's own `stopChild` calls; private in its types.
    ;(this as unknown as { _stop(): void })._stop()
    return this
  }
}

/**
 * Keep a tree child's end to itself: a child made with `parent` (a session under
 * its connection or listener, a connection under its listener) does not send its
 * parent `xstate.done.actor.<id>` / `xstate.error.actor.<id>` when its chart ends.
 *
 * Why: its owner is its `Scope`, which learns of the end and releases it; no
 * parent chart handles those events. Delivered, they cost memory forever: xstate
 * memoizes the transitions each state node has for every event type it ever
 * received (`candidates-<type>` in a module-wide cache keyed by the shared
 * machine's `StateNode`s), and these types embed the child's id, new for every
 * session. That cache grew by ~200-450 bytes per ended session (two arrays and
 * the key string, one entry per state node of the parent's active state): a
 * linear heap growth of the HTTP and WebSocket servers under churn, found by a
 * soak. An error event had a second effect: unhandled, it put the parent chart
 * itself (a listener, with every other session) into `error`. The inspection
 * hub sees the child's own final or error snapshot as before.
 *
 * The same holds for any actor of the system made with `parent` (the HTTP
 * client transport's connection chart under its client session). Children a
 * chart spawned or invoked itself (listed in its snapshot's `children`) still
 * report to it: their done events are what those charts wait for.
 */
const spawnedBy = (parent: AnyActorRef, child: AnyActorRef): boolean => {
  const children = (parent.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> }).children
  // Not a chart (no `children`): nothing of it can handle the event; a chart lists what it spawned or invoked.
  return children !== undefined && Object.hasOwn(children, child.id) && children[child.id] === child
}

interface ChartNode {
  readonly transitions?: ReadonlyMap<string, unknown>
  readonly states?: Readonly<Record<string, ChartNode>>
}

/** What done events a chart names: exact `xstate.done.actor.<id>` descriptors, and the wildcards that match any. */
interface DoneDescriptors {
  readonly exact: ReadonlySet<string>
  readonly prefixes: ReadonlyArray<string>
}

const DONE = "xstate.done.actor."
const doneDescriptorsByChart = new WeakMap<object, DoneDescriptors>()

const doneDescriptorsOf = (chart: object, root: ChartNode): DoneDescriptors => {
  const known = doneDescriptorsByChart.get(chart)
  if (known !== undefined) return known
  const exact = new Set<string>()
  const prefixes = new Set<string>()
  const visit = (node: ChartNode): void => {
    for (const descriptor of node.transitions?.keys() ?? []) {
      if (descriptor === "*") prefixes.add("")
      else if (descriptor.endsWith(".*") && DONE.startsWith(descriptor.slice(0, -1))) prefixes.add(descriptor.slice(0, -1))
      else if (descriptor.startsWith(DONE)) {
        if (descriptor.endsWith(".*")) prefixes.add(descriptor.slice(0, -1))
        else exact.add(descriptor)
      }
    }
    for (const child of Object.values(node.states ?? {})) visit(child)
  }
  visit(root)
  const descriptors = { exact, prefixes: [...prefixes] }
  doneDescriptorsByChart.set(chart, descriptors)
  return descriptors
}

/**
 * Whether `parent`'s chart has a transition for this done event. Why: xstate memoizes
 * the transition candidates of every state node per event type, for as long as the
 * chart (a module constant) lives; a done event of a child with an ever-new id that no
 * transition names would still add one entry per child, forever (issue 8). Such an
 * event changes nothing but that cache, so it is dropped (error events always pass:
 * unhandled, they must still error the parent).
 */
const chartHandlesDone = (parent: AnyActorRef, type: string): boolean => {
  const chart = (parent as { readonly logic?: { readonly root?: ChartNode } }).logic
  const root = chart?.root
  if (chart === undefined || root === undefined) return false
  const { exact, prefixes } = doneDescriptorsOf(chart, root)
  return exact.has(type) || prefixes.some((prefix) => type.startsWith(prefix))
}

/**
 * Keep the system's table of live actors out: xstate's `_register` puts every actor of the
 * system in a `Map` by session id that nothing reads (lookups go by `systemId`, `_set`).
 * In a runtime's tree that `Map` lives as long as the runtime and sees every session's
 * actors come and go: its dropped hash tables kept ended sessions reachable for the young
 * GC (see ClearingMap.ts). `_unregister` then deletes nothing; `systemId`s are kept as before.
 */
const registerNothing = (actor: AnyActorRef): void => {
  const system = actor.system as unknown as { _register?: (sessionId: string, actor: AnyActorRef) => string }
  if (typeof system._register === "function") system._register = (sessionId) => sessionId
}

const keepTreeEndsLocal = (actor: AnyActorRef): void => {
  registerNothing(actor)
  const system = actor.system as unknown as SchedulingSystem
  const relay = system._relay
  if (relay === undefined) return
  system._relay = (source, target, event) => {
    const done = event.type.startsWith(DONE)
    if (
      (done || event.type.startsWith("xstate.error.actor.")) &&
      source !== undefined && (source as { _parent?: AnyActorRef })._parent === target &&
      (!spawnedBy(target, source) || (done && !chartHandlesDone(target, event.type)))
    ) return
    relay(source, target, event)
  }
}

let creationObserver: ((actor: AnyActorRef) => void) | undefined

/**
 * Read-only introspection: be told of every actor the runtime creates from now
 * on (one observer at a time; returns the function that removes it).
 *
 * Why: the deterministic simulation (`test/sim/`) checks that no actor is left
 * running once every session has ended. Every actor of this runtime is made by
 * {@link createLeanActor}, so this one hook sees them all (but the roots of
 * runtimes, see {@link createRootActor}); with no observer the cost is one
 * comparison per actor.
 */
export const observeActorCreation = (observer: (actor: AnyActorRef) => void): () => void => {
  if (creationObserver !== undefined) throw new Error("observeActorCreation: an observer is already installed")
  creationObserver = observer
  return () => {
    if (creationObserver === observer) creationObserver = undefined
  }
}

/**
 * A root's options: the inspection hub's observer when someone listens, and a clock that tells time
 * (the system clock, on the same timers as xstate's default one) when none was given: what runs
 * on the root's clock can read `now` (the requests tables' deadline wheel, `machines/outboundRequests.ts`).
 */
const rootOptions = <TLogic extends AnyActorLogic>(options: ActorOptions<TLogic> | undefined, boot: ReturnType<typeof inspectionBoot>): ActorOptions<TLogic> => {
  const clocked = options?.clock === undefined ? ({ ...options, clock: systemClock } as ActorOptions<TLogic>) : options
  return boot === undefined ? clocked : ({ ...clocked, inspect: boot.observer } as ActorOptions<TLogic>)
}

/**
 * `createActor` with the lean scheduler: what the runtime's actors are made with
 * (`HttpClientTransport` still uses xstate's `createActor` with a `parent`, which
 * shares the parent's scheduler but skips {@link observeActorCreation}). Pass
 * `parent` (a connection or listener actor) to make it a node of that actor's tree
 * rather than a root of its own.
 */
export const createLeanActor = <TLogic extends AnyActorLogic>(logic: TLogic, options?: ActorOptions<TLogic>): Actor<TLogic> => {
  // A root is fed to the inspection hub only while someone listens (see inspection.ts); a child
  // shares its root's system, whose scheduler and inspection dispatcher are already in place.
  const boot = options?.parent === undefined ? inspectionBoot(options?.inspect) : undefined
  const actor: Actor<TLogic> = new TreeActor(logic, options?.parent === undefined ? rootOptions(options, boot) : options)
  if (options?.parent === undefined) {
    keepTreeEndsLocal(useLeanScheduler(actor))
    boot?.attach(actor)
  }
  if (creationObserver !== undefined) creationObserver(actor)
  return actor
}

/**
 * The root actor of a runtime's tree (`McpRuntime`): a lean actor that is not
 * reported to {@link observeActorCreation}, since it lives as long as its
 * runtime (the process's, for the Promise API), not as long as a session.
 */
export const createRootActor = <TLogic extends AnyActorLogic>(logic: TLogic, options?: ActorOptions<TLogic>): Actor<TLogic> => {
  const boot = inspectionBoot(options?.inspect)
  const root = useLeanScheduler(new TreeActor(logic, rootOptions(options, boot)) as Actor<TLogic>)
  keepTreeEndsLocal(root)
  boot?.attach(root)
  return root
}
