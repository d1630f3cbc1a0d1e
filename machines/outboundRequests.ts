/**
 * A client session's requests in flight: one child actor (`requests`) that runs the
 * `outboundRequest` chart once per request, over a table keyed by request id.
 *
 * Why not one actor per request: a spawned child costs an actor (system registration,
 * mailbox, observers, scheduler entry) plus two steps of the session chart, and xstate
 * copies the parent's `children` object on every spawn and stop, O(n) in the requests
 * in flight. Measured in `bench/client.ts`, that was most of the client's CPU per call.
 * Here each request's lifecycle is still the chart's: every event goes through
 * `outboundRequestMachine.transition` (its guards, actions and delays, with whatever the
 * runtime provided), on one actor scope shared by the table. Only the bookkeeping around
 * it is this file's: which request an event is for, and the request's timers.
 *
 * Timers: the chart's `after` delays come out of its transitions as delayed
 * `xstate.raise` / `xstate.cancel` actions; they go to this actor's system scheduler
 * (the runtime's clock, a `SimulatedClock` in tests) under the request's id, and come back
 * as `REQUEST_DEADLINE` events carrying the chart's own delayed event. Stopping this
 * actor cancels them all.
 *
 * What the runtime sees:
 * - `value`: `idle` (nothing in flight) or `busy`; `context.inFlight`; `context.requests`,
 *   the requests in flight as plain data (id, method, the chart's state, last progress):
 *   the context holds no live object and survives `JSON.stringify`. The request charts'
 *   own snapshots are the runner's (outside the context): {@link requestSnapshotOf},
 *   {@link hasRequest};
 * - emitted `outcome` (a request reached a final state: its chart's output) and
 *   `progress` (the chart recorded a progress that advances: what the caller's
 *   `onProgress` gets).
 *
 * Pure: no I/O here. The chart's effect (`sendCancelled`) is whatever the runtime provided
 * on the machine given to {@link outboundRequestsLogic}.
 */
import type { ActorLogic, ActorSystem, AnyActorRef, AnyActorScope, EventObject, Snapshot, SnapshotFrom, StateValue } from "xstate"
import {
  type OutboundRequestEvent,
  type OutboundRequestInput,
  outboundRequestMachine,
  type OutboundRequestMachine,
  type OutboundRequestOutcome,
  type ProgressSnapshot
} from "./outboundRequest.ts"
import { ClearingMap } from "../src/protocol/ClearingMap.ts"
import type { RequestId } from "../src/protocol/jsonrpc.ts"

/** One request's chart snapshot. */
export type OutboundRequestSnapshot = SnapshotFrom<OutboundRequestMachine>

/** One request in flight, as plain data: its id, method, its chart's state and the last progress it recorded. */
export interface OutboundRequestSummary {
  readonly requestId: RequestId
  readonly method: string
  readonly state: StateValue
  readonly lastProgress: ProgressSnapshot | undefined
}

/**
 * The table's context, plain data only: how many are in flight, and each one as a summary
 * (in no particular order; updated in place, like the snapshot of any actor between steps:
 * read it, do not keep it).
 */
export interface OutboundRequestsContext {
  readonly inFlight: number
  readonly requests: ReadonlyArray<OutboundRequestSummary>
}

/** The table's snapshot: xstate's status fields, `value` (`busy` while any request is in flight) and context. */
export type OutboundRequestsSnapshot = Snapshot<undefined> & {
  readonly value: "idle" | "busy"
  readonly context: OutboundRequestsContext
}

/**
 * Events the runtime sends (each request's event carries its `requestId`):
 * - `REQUEST_SENT`: a request went out; its chart starts (`pending`, deadlines armed);
 * - `RESPONSE` / `ERROR_RESPONSE` / `PROGRESS` / `CANCEL` / `TRANSPORT_CLOSED`: the
 *   request chart's own events; `TRANSPORT_CLOSED` without a `requestId` goes to every request;
 * - `REQUEST_DEADLINE`: one of a request's delays elapsed (sent by the scheduler, not the runtime);
 * - `DEADLINES_DUE`: the table's deadline wheel is due (its one timer: the requests' delays wait behind
 *   it, not on a timer each): each request delay that elapsed is stepped as its `REQUEST_DEADLINE` would be.
 * An event for an id not in flight (late, foreign, already settled) changes nothing.
 */
export type OutboundRequestsEvent =
  | ({ readonly type: "REQUEST_SENT" } & OutboundRequestInput)
  | (Exclude<OutboundRequestEvent, { readonly type: "TRANSPORT_CLOSED" }> & { readonly requestId: RequestId })
  | { readonly type: "TRANSPORT_CLOSED"; readonly requestId?: RequestId; readonly reason?: string }
  | { readonly type: "REQUEST_DEADLINE"; readonly requestId: RequestId; readonly event: EventObject }
  | { readonly type: "DEADLINES_DUE" }

/** What the table emits: a request's outcome, and progress the chart recorded. */
export type OutboundRequestsEmitted =
  | { readonly type: "outcome"; readonly output: OutboundRequestOutcome }
  | { readonly type: "progress"; readonly requestId: RequestId; readonly progress: ProgressSnapshot }

/** A delayed event the chart's initial step scheduled: what its `xstate.raise` carried. */
interface DelayedRaise {
  readonly id: string
  readonly delay: number
  readonly event: EventObject
}

/** A summary as the table updates it in place. */
type MutableSummary = { -readonly [K in keyof OutboundRequestSummary]: OutboundRequestSummary[K] }

/**
 * Per actor: the scope the request charts run on, which request is stepping, and the table
 * (the request charts' snapshots: live state, kept here, outside the context).
 */
interface Runner {
  readonly scope: AnyActorScope
  current: RequestId
  /** Each request's place in `charts` and `summaries` (in the order the requests were sent). */
  readonly table: Map<RequestId, number>
  /** The request charts' snapshots, by place. */
  readonly charts: Array<OutboundRequestSnapshot>
  /** The context's list of summaries, by the same place, updated in place with the table. */
  readonly summaries: Array<MutableSummary>
  /** While set, the chart's actions are recorded here instead of run (a memo's probe). */
  recording: Array<{ readonly type: string; readonly params: unknown }> | undefined
  /**
   * The deadline wheel: the requests' pending delays by timer id (in the order they were armed), and
   * when the table's one timer (`WHEEL`) fires. Arming a request's deadline is a `Map.set`, clearing it
   * a `Map.delete`: no clock timer per request (each was a `setTimeout` and a `clearTimeout` of the
   * runtime's clock, twice per request: ≈ 20 µs of a cold gateway call). The timer is re-armed only for
   * a deadline earlier than the one it waits for; when it fires, every delay that elapsed is stepped
   * (earliest first, as their own timers would have fired) and it is armed for the earliest one left, if
   * any. So an idle table keeps its timer until the deadline it waits for (at most the last request's
   * timeout) unless it is stopped: stopping it (its client closed) cancels it.
   * `now` is the clock the scheduler runs this actor's timers on (undefined: a clock without `now`,
   * then every delay is its own timer, as before).
   */
  readonly deadlines: ClearingMap<RequestId, Array<Deadline>>
  wheelAt: number | undefined
  now: (() => number) | undefined
}

/** A request's pending delay on the wheel: its id, the chart's own delayed event, and when it is due. */
interface Deadline {
  readonly requestId: RequestId
  readonly id: string
  readonly event: EventObject
  readonly at: number
}

/** The table's one timer id (the requests' delays are on the wheel behind it). */
const WHEEL = "requests.deadlines\u0000wheel"
const DEADLINES_DUE: EventObject = { type: "DEADLINES_DUE" }
const runners = new WeakMap<AnyActorRef, Runner>()

/** The chart snapshot of request `id` in the table actor `requests` (undefined: not in flight). Read it, do not keep it. */
export const requestSnapshotOf = (requests: object, id: RequestId): OutboundRequestSnapshot | undefined => {
  const runner = runners.get(requests as AnyActorRef)
  const i = runner?.table.get(id)
  return i === undefined ? undefined : runner!.charts[i]
}

/** Whether request `id` is in flight in the table actor `requests`. */
export const hasRequest = (requests: object, id: RequestId): boolean => runners.get(requests as AnyActorRef)?.table.has(id) === true

/** Put a request's new chart snapshot in the table, and its summary in the context's list. */
const put = (runner: Runner, requestId: RequestId, snapshot: OutboundRequestSnapshot): void => {
  const i = runner.table.get(requestId)
  if (i !== undefined) {
    runner.charts[i] = snapshot
    const summary = runner.summaries[i]!
    summary.state = snapshot.value
    summary.lastProgress = snapshot.context.lastProgress
    return
  }
  runner.table.set(requestId, runner.charts.length)
  runner.charts.push(snapshot)
  runner.summaries.push({ requestId, method: snapshot.context.method, state: snapshot.value, lastProgress: snapshot.context.lastProgress })
}

/** A request's chart snapshot (undefined: not in flight). */
const chartOf = (runner: Runner, requestId: RequestId): OutboundRequestSnapshot | undefined => {
  const i = runner.table.get(requestId)
  return i === undefined ? undefined : runner.charts[i]
}

/** Take a request out of the table and its summary out of the list (the last one takes its place). */
const remove = (runner: Runner, requestId: RequestId): void => {
  const i = runner.table.get(requestId)
  if (i === undefined) return
  runner.table.delete(requestId)
  const last = runner.summaries.pop()!
  const lastChart = runner.charts.pop()!
  if (i < runner.summaries.length) {
    runner.summaries[i] = last
    runner.charts[i] = lastChart
    runner.table.set(last.requestId, i)
  }
}

const timerId = (requestId: RequestId, id: string): string => `request.${String(requestId)}.${id}`

const schedule = (outer: AnyActorScope, requestId: RequestId, raise: DelayedRaise): void => {
  const runner = runnerOf(outer)
  const now = runner.now
  if (now === undefined) {
    outer.system.scheduler.schedule(
      outer.self,
      outer.self,
      { type: "REQUEST_DEADLINE", requestId, event: raise.event } as EventObject,
      raise.delay,
      timerId(requestId, raise.id)
    )
    return
  }
  const at = now() + raise.delay
  const deadline: Deadline = { requestId, id: raise.id, event: raise.event, at }
  const own = runner.deadlines.get(requestId)
  if (own === undefined) runner.deadlines.set(requestId, [deadline])
  else {
    // Re-armed (progress): the new one replaces it.
    const i = indexOfDelay(own, raise.id)
    if (i === -1) own.push(deadline)
    else own[i] = deadline
  }
  if (runner.wheelAt === undefined || at < runner.wheelAt) armWheel(outer, runner, at, raise.delay)
}

const indexOfDelay = (own: ReadonlyArray<Deadline>, id: string): number => {
  for (let i = 0; i < own.length; i++) if (own[i]!.id === id) return i
  return -1
}

/** (Re-)arm the table's one timer for `at` (in `delay` ms). */
const armWheel = (outer: AnyActorScope, runner: Runner, at: number, delay: number): void => {
  const scheduler = outer.system.scheduler
  // xstate's own scheduler would leave a timer of the same id running: cancelled first.
  if (runner.wheelAt !== undefined) scheduler.cancel(outer.self, WHEEL)
  runner.wheelAt = at
  scheduler.schedule(outer.self, outer.self, DEADLINES_DUE, Math.max(0, delay), WHEEL)
}

/** Clear a request's delay (the chart cancelled it, or it was delivered). The wheel's timer stays: it finds nothing due. */
const unschedule = (outer: AnyActorScope, runner: Runner, requestId: RequestId, id: string): void => {
  if (runner.now === undefined) return outer.system.scheduler.cancel(outer.self, timerId(requestId, id))
  const own = runner.deadlines.get(requestId)
  if (own === undefined) return
  const i = indexOfDelay(own, id)
  if (i === -1) return
  if (own.length === 1) runner.deadlines.delete(requestId)
  else own.splice(i, 1)
}

/** The wheel fired: the delays that elapsed, earliest first, taken off it (then `rearmWheel`). */
const dueDeadlines = (runner: Runner): Array<Deadline> => {
  runner.wheelAt = undefined
  const now = runner.now!()
  const due: Array<Deadline> = []
  for (const [requestId, own] of runner.deadlines) {
    for (let i = 0; i < own.length; ) {
      if (own[i]!.at <= now) due.push(own.splice(i, 1)[0]!)
      else i++
    }
    if (own.length === 0) runner.deadlines.delete(requestId)
  }
  // Stable: equal deadlines keep the order they were armed in.
  if (due.length > 1) due.sort((a, b) => a.at - b.at)
  return due
}

/** After the due delays were stepped (which may have armed or cleared others): the wheel waits for the earliest left, if any. */
const rearmWheel = (outer: AnyActorScope, runner: Runner): void => {
  let next: number | undefined
  for (const own of runner.deadlines.values()) for (const d of own) if (next === undefined || d.at < next) next = d.at
  if (next !== undefined && (runner.wheelAt === undefined || next < runner.wheelAt)) armWheel(outer, runner, next, next - runner.now!())
}

/** The clock the scheduler runs `outer`'s timers on, if it tells time (the lean scheduler says which; else the system's). */
const nowOf = (outer: AnyActorScope): (() => number) | undefined => {
  const system = outer.system as { readonly scheduler: { clockOf?: (source: AnyActorRef) => unknown }; readonly _clock?: unknown }
  const clock = (system.scheduler.clockOf !== undefined ? system.scheduler.clockOf(outer.self) : system._clock) as { now?: unknown } | undefined
  if (clock === undefined || typeof clock.now !== "function") return undefined
  return () => (clock as { now(): number }).now()
}

/**
 * The scope a request chart transitions on: this actor's, except that the chart's delayed
 * events are scheduled per request (wrapped in `REQUEST_DEADLINE`) and its other actions
 * (the provided `sendCancelled`) run as they come, as in an actor.
 */
const runnerOf = (outer: AnyActorScope): Runner => {
  const known = runners.get(outer.self)
  if (known !== undefined) return known
  const runner: Runner = {
    current: "",
    table: new Map(),
    charts: [],
    summaries: [],
    recording: undefined,
    // A ClearingMap: one entry per request on a long-lived client; a `Map`'s dropped hash tables kept them reachable
    // for the young GC (docs/performance.md, "The gateway's per-call path and the young GC").
    deadlines: new ClearingMap(),
    wheelAt: undefined,
    now: nowOf(outer),
    scope: {
      self: outer.self,
      id: outer.id,
      sessionId: outer.sessionId,
      logger: outer.logger,
      system: outer.system,
      defer: outer.defer,
      emit: outer.emit,
      stopChild: outer.stopChild,
      actionExecutor: (action) => {
        if (runner.recording !== undefined) {
          runner.recording.push({ type: action.type, params: action.params })
          return
        }
        const requestId = runner.current
        const params = action.params as { readonly delay?: unknown; readonly id?: string; readonly event?: EventObject; readonly sendId?: string } | undefined
        if (action.type === "xstate.raise") {
          if (typeof params?.delay === "number" && params.event !== undefined && params.id !== undefined) {
            schedule(outer, requestId, { id: params.id, delay: params.delay, event: params.event })
          }
          return
        }
        if (action.type === "xstate.cancel") {
          if (params?.sendId !== undefined) unschedule(outer, runner, requestId, params.sendId)
          return
        }
        action.exec?.(action.info, action.params)
      }
    } as AnyActorScope
  }
  runners.set(outer.self, runner)
  return runner
}

/**
 * The chart's initial step for inputs of one shape, computed once: its snapshot (for a probe
 * request id) and the delayed events it scheduled. `idKeys` are the context fields that hold
 * the request id (they are the request's own in each copy).
 */
interface InitialStep {
  readonly snapshot: OutboundRequestSnapshot
  readonly idKeys: ReadonlyArray<string>
  readonly raises: ReadonlyArray<DelayedRaise>
  /** The chart's final steps from this snapshot, by event type and defined fields (`null`: not memoizable). */
  readonly finals: Map<string, FinalStep | null>
}

/** An outcome's shape: constants, the request's id, and the event's fields where the chart put them. */
type OutputShape =
  | { readonly kind: "const"; readonly value: unknown }
  | { readonly kind: "id" }
  | { readonly kind: "field"; readonly key: string }
  | { readonly kind: "object"; readonly entries: ReadonlyArray<readonly [string, OutputShape]> }

/** A step that ends a request, computed once: its outcome's shape and the delays it cancelled. */
interface FinalStep {
  readonly output: OutputShape
  readonly cancels: ReadonlyArray<string>
}

/** Two ids no peer can send, for the probes. */
const PROBE_A = "\u0000probe.a"
const PROBE_B = "\u0000probe.b"

/**
 * The chart's initial step, run twice with two probe ids on a recording scope: memoizable when
 * it only scheduled delayed events (no other effect), the same ones both times, and the two
 * snapshots differ only in the context fields that hold the id. Otherwise `undefined`: every
 * such request runs the full initial step.
 */
const probeInitialStep = (
  chart: OutboundRequestMachine,
  runner: Runner,
  input: OutboundRequestInput,
  tokened: boolean
): InitialStep | undefined => {
  const run = (id: string) => {
    const recording: Array<{ readonly type: string; readonly params: unknown }> = []
    runner.recording = recording
    try {
      const snapshot = chart.getInitialSnapshot(runner.scope, { ...input, requestId: id, ...(tokened ? { progressToken: id } : {}) })
      return { snapshot, recording }
    } finally {
      runner.recording = undefined
    }
  }
  const a = run(PROBE_A)
  const b = run(PROBE_B)
  if (a.snapshot.status !== "active" || b.snapshot.status !== "active") return undefined
  if (JSON.stringify(a.snapshot.value) !== JSON.stringify(b.snapshot.value)) return undefined
  const raises: Array<DelayedRaise> = []
  for (const [i, r] of a.recording.entries()) {
    const p = r.params as { readonly delay?: unknown; readonly id?: unknown; readonly event?: EventObject } | undefined
    const q = b.recording[i]
    if (r.type !== "xstate.raise" || typeof p?.delay !== "number" || typeof p.id !== "string" || p.event === undefined) return undefined
    if (q === undefined || q.type !== r.type || JSON.stringify(q.params) !== JSON.stringify(r.params)) return undefined
    raises.push({ id: p.id, delay: p.delay, event: p.event })
  }
  if (b.recording.length !== a.recording.length) return undefined
  const ca = a.snapshot.context as unknown as Record<string, unknown>
  const cb = b.snapshot.context as unknown as Record<string, unknown>
  const keys = Object.keys(ca)
  if (keys.length !== Object.keys(cb).length) return undefined
  const idKeys: Array<string> = []
  for (const k of keys) {
    if (ca[k] === PROBE_A && cb[k] === PROBE_B) idKeys.push(k)
    else if (typeof ca[k] === "object" && ca[k] !== null) return undefined // shared between copies: not memoized
    else if (!Object.is(ca[k], cb[k])) return undefined
  }
  return { snapshot: a.snapshot, idKeys, raises, finals: new Map() }
}

const isPlain = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && Object.getPrototypeOf(x) === Object.prototype

/**
 * The outcome's shape from the outcomes of the two probes: where probe A has its id and B its
 * own, the request's id; where A has the sentinel of event field `k` and B its own, that field;
 * equal primitives are constants; plain objects are walked. Anything else: `undefined`.
 */
const shapeOf = (a: unknown, b: unknown, sentinels: ReadonlyMap<unknown, readonly [string, unknown]>): OutputShape | undefined => {
  if (a === PROBE_A && b === PROBE_B) return { kind: "id" }
  const field = sentinels.get(a)
  if (field !== undefined) return field[1] === b ? { kind: "field", key: field[0] } : undefined
  if (isPlain(a) && isPlain(b)) {
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(b).length) return undefined
    const entries: Array<readonly [string, OutputShape]> = []
    for (const k of keys) {
      if (!Object.hasOwn(b, k)) return undefined
      const shape = shapeOf(a[k], b[k], sentinels)
      if (shape === undefined) return undefined
      entries.push([k, shape])
    }
    return { kind: "object", entries }
  }
  if ((typeof a === "object" && a !== null) || typeof a === "function") return undefined
  return Object.is(a, b) ? { kind: "const", value: a } : undefined
}

const outputOf = (shape: OutputShape, requestId: RequestId, event: Readonly<Record<string, unknown>>): unknown => {
  switch (shape.kind) {
    case "const":
      return shape.value
    case "id":
      return requestId
    case "field":
      return event[shape.key]
    case "object": {
      // Indexed (no iterator, no destructuring): once per request, mostly on a cold path.
      const out: Record<string, unknown> = {}
      const entries = shape.entries
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!
        out[entry[0]] = outputOf(entry[1], requestId, event)
      }
      return out
    }
  }
}

/**
 * The chart's step for `event` from a request's initial snapshot, run twice on a recording scope:
 * from the snapshot with probe id A and the event with a sentinel object in each field, and with
 * id B and other sentinels. Memoizable when the chart picks an unguarded transition, the request
 * ends (a final state) both times, the only effects are cancelled delays (the same both times),
 * and the two outcomes differ only where the ids and the sentinels are (their shape). The chart's
 * actions copy event fields into the outcome without looking into them, as `outboundRequest`'s do;
 * a defined field's value is never a branch (undefined fields are part of the memo's key).
 */
const probeFinalStep = (
  chart: OutboundRequestMachine,
  runner: Runner,
  initial: InitialStep,
  event: Readonly<Record<string, unknown>>
): FinalStep | undefined => {
  const sentinels = new Map<unknown, readonly [string, unknown]>()
  const eventA: Record<string, unknown> = { type: event.type }
  const eventB: Record<string, unknown> = { type: event.type }
  for (const k of Object.keys(event)) {
    if (k === "type") continue
    // An undefined field stays undefined (the chart may branch on it: it is part of the memo's key).
    if (event[k] === undefined) {
      eventA[k] = eventB[k] = undefined
      continue
    }
    eventA[k] = { probe: `a.${k}` }
    eventB[k] = { probe: `b.${k}` }
    sentinels.set(eventA[k], [k, eventB[k]])
  }
  const contextB = { ...initial.snapshot.context } as Record<string, unknown>
  for (const k of initial.idKeys) contextB[k] = PROBE_B
  const snapshotB = { ...initial.snapshot, context: contextB } as unknown as OutboundRequestSnapshot
  const transitions = chart.getTransitionData(initial.snapshot, eventA as unknown as OutboundRequestEvent)
  if (transitions.length === 0 || transitions.some((t) => t.guard !== undefined)) return undefined
  const run = (from: OutboundRequestSnapshot, e: Record<string, unknown>) => {
    const recording: Array<{ readonly type: string; readonly params: unknown }> = []
    runner.recording = recording
    try {
      return { after: chart.transition(from, e as unknown as OutboundRequestEvent, runner.scope), recording }
    } finally {
      runner.recording = undefined
    }
  }
  const a = run(initial.snapshot, eventA)
  const b = run(snapshotB, eventB)
  if (a.after.status !== "done" || b.after.status !== "done") return undefined
  if (a.recording.length !== b.recording.length) return undefined
  const cancels: Array<string> = []
  for (const [i, r] of a.recording.entries()) {
    const sendId = (r.params as { readonly sendId?: unknown } | undefined)?.sendId
    if (r.type !== "xstate.cancel" || typeof sendId !== "string") return undefined
    const q = b.recording[i]!
    if (q.type !== r.type || (q.params as { readonly sendId?: unknown } | undefined)?.sendId !== sendId) return undefined
    cancels.push(sendId)
  }
  const output = shapeOf(a.after.output, b.after.output, sentinels)
  return output === undefined ? undefined : { output, cancels }
}

const snapshotOf = (previous: OutboundRequestsSnapshot, runner: Runner): OutboundRequestsSnapshot => ({
  ...previous,
  value: runner.table.size > 0 ? "busy" : "idle",
  context: { inFlight: runner.table.size, requests: runner.summaries }
})

/**
 * The requests table as actor logic, running `chart` (the `outboundRequest` machine with the
 * runtime's `sendCancelled`) for each request. A session invokes it as its `requests` child.
 *
 * @example
 * ```ts
 * import { createActor, SimulatedClock } from "xstate"
 * import { outboundRequestMachine, outboundRequestsLogic } from "mcp-actors/machines"
 *
 * const clock = new SimulatedClock()
 * const requests = createActor(outboundRequestsLogic(outboundRequestMachine), { clock }).start()
 * requests.on("outcome", (e) => console.log(e.output))
 * requests.send({ type: "REQUEST_SENT", requestId: 1, method: "tools/list", timeoutMs: 1_000 })
 * requests.send({ type: "RESPONSE", requestId: 1, result: { tools: [] } }) // { _tag: "Settled", requestId: 1, … }
 * ```
 */
export const outboundRequestsLogic = (
  chart: OutboundRequestMachine = outboundRequestMachine
): ActorLogic<OutboundRequestsSnapshot, OutboundRequestsEvent, undefined, ActorSystem<any>, OutboundRequestsEmitted> => {
  /**
   * The last final step looked up (its initial step, event type and fields, each with whether it is
   * undefined: the memo's key, kept as parts) and what it was: most responses of a client repeat it.
   */
  let lastFinal: { readonly initial: InitialStep; readonly type: string; readonly fields: ReadonlyArray<readonly [string, boolean]>; readonly final: FinalStep | null } | undefined
  /** Whether `event` from `initial` has the memo key of the last final step looked up (without building the key). */
  const sameEventShapeAsLast = (initial: InitialStep, event: Readonly<Record<string, unknown>>): boolean => {
    if (lastFinal === undefined || lastFinal.initial !== initial || lastFinal.type !== event.type) return false
    const want = lastFinal.fields
    let i = 0
    for (const k in event) {
      if (k === "type") continue
      const f = want[i++]
      if (f === undefined || f[0] !== k || f[1] !== (event[k] === undefined)) return false
    }
    return i === want.length
  }
  /** One chart step for one request; settles it (table, outcome) once its chart is done. */
  const step = (
    runner: Runner,
    outer: AnyActorScope,
    requestId: RequestId,
    before: OutboundRequestSnapshot,
    event: EventObject
  ): void => {
    runner.current = requestId
    const initial = fresh.get(before)
    if (initial !== undefined) {
      // Still as the memoized initial step left it: the chart's final steps from there are memoized too.
      const fields = event as unknown as Readonly<Record<string, unknown>>
      let final = sameEventShapeAsLast(initial, fields) ? lastFinal!.final : undefined
      if (final === undefined) {
        let key = event.type
        for (const k in fields) if (k !== "type") key += fields[k] === undefined ? `\u0000-${k}` : `\u0000${k}`
        final = initial.finals.get(key)
        if (final === undefined) {
          final = initial.finals.size >= 32 ? null : probeFinalStep(chart, runner, initial, fields) ?? null
          if (initial.finals.size < 32) initial.finals.set(key, final)
        }
        const shape: Array<readonly [string, boolean]> = []
        for (const k in fields) if (k !== "type") shape.push([k, fields[k] === undefined])
        lastFinal = { initial, type: event.type, fields: shape, final }
      }
      if (final !== null) {
        remove(runner, requestId)
        for (const id of final.cancels) unschedule(outer, runner, requestId, id)
        const output = outputOf(final.output, requestId, fields) as OutboundRequestOutcome
        outer.defer(() => outer.emit({ type: "outcome", output }))
        return
      }
    }
    const after = chart.transition(before, event as OutboundRequestEvent, runner.scope)
    if (after === before) return
    if (after.status !== "active") {
      remove(runner, requestId)
      const output = after.output ?? { _tag: "Aborted" as const, requestId, reason: "ended without outcome" }
      outer.defer(() => outer.emit({ type: "outcome", output }))
      return
    }
    put(runner, requestId, after)
    const progress = after.context.lastProgress
    if (progress !== undefined && progress !== before.context.lastProgress) {
      outer.defer(() => outer.emit({ type: "progress", requestId, progress }))
    }
  }
  /**
   * Each request's initial step, from the chart's step for its input's shape (method, deadlines,
   * whether its progress token is its id) computed once by {@link probeInitialStep}: the same
   * snapshot with the request's id in it, the same delays armed. Most calls of a client share
   * one shape, so xstate's initial microstep (the larger half of a request's CPU in the chart)
   * runs once per shape, not per request.
   */
  const initialSteps = new Map<string, InitialStep | null>()
  /** Snapshots made from a memoized initial step (and not stepped since). */
  const fresh = new WeakMap<OutboundRequestSnapshot, InitialStep>()
  /** The last keyed input's shape (its fields but the id, in order) and its step: most requests of a client repeat it. */
  let last: { readonly tokened: boolean; readonly fields: ReadonlyArray<readonly [string, unknown]>; readonly step: InitialStep | null } | undefined
  /** Whether `input` has the last keyed input's shape: the same fields, in the same order, with the same values. */
  const sameShapeAsLast = (input: Readonly<Record<string, unknown>>, tokened: boolean): boolean => {
    if (last === undefined || last.tokened !== tokened) return false
    const want = last.fields
    let i = 0
    for (const k in input) {
      if (k === "requestId" || k === "progressToken" || k === "type") continue
      const f = want[i++]
      if (f === undefined || f[0] !== k || !Object.is(f[1], input[k])) return false
    }
    return i === want.length
  }
  const initialSnapshot = (runner: Runner, outer: AnyActorScope, input: OutboundRequestInput): OutboundRequestSnapshot => {
    const id = input.requestId
    const token = input.progressToken
    const tokened = token !== undefined && token === id
    const fields = input as unknown as Readonly<Record<string, unknown>>
    let step: InitialStep | null | undefined
    // A token that is not the id is never keyed (the full step runs): it never takes the last shape's step either.
    if ((token === undefined || tokened) && sameShapeAsLast(fields, tokened)) step = last!.step
    else {
      // The shape: every input field but the id (and a token that is the id), primitives only.
      let key: string | undefined = token !== undefined && !tokened ? undefined : String(tokened)
      const shape: Array<readonly [string, unknown]> = []
      for (const k in fields) {
        if (key === undefined) break
        if (k === "requestId" || k === "progressToken" || k === "type") continue
        const v = fields[k]
        shape.push([k, v])
        // A string is quoted (JSON escapes NUL): no two shapes share a key.
        key = typeof v === "object" && v !== null ? undefined : `${key}\u0000${k}=${typeof v === "string" ? JSON.stringify(v) : String(v)}`
      }
      step = key === undefined ? null : initialSteps.get(key)
      if (step === undefined) {
        // Bounded: a client with ever-new shapes (per-call deadlines) runs the full step beyond 64.
        step = initialSteps.size >= 64 ? null : probeInitialStep(chart, runner, input, tokened) ?? null
        if (initialSteps.size < 64) initialSteps.set(key!, step)
      }
      // Only a keyed shape (primitive fields) is remembered: the same fields and values give the same key, so the same step.
      if (key !== undefined) last = { tokened, fields: shape, step }
    }
    if (step === null) return chart.getInitialSnapshot(runner.scope, input)
    const context = { ...step.snapshot.context } as Record<string, unknown>
    for (const k of step.idKeys) context[k] = id
    for (const raise of step.raises) schedule(outer, id, raise)
    const snapshot = { ...step.snapshot, context } as unknown as OutboundRequestSnapshot
    fresh.set(snapshot, step)
    return snapshot
  }
  return {
    config: chart,
    getInitialSnapshot: (outer) => {
      const runner = runnerOf(outer)
      runner.table.clear()
      runner.charts.length = 0
      runner.summaries.length = 0
      runner.deadlines.clear()
      runner.wheelAt = undefined
      return { status: "active", output: undefined, error: undefined, value: "idle", context: { inFlight: 0, requests: runner.summaries } }
    },
    transition: (snapshot, event, outer) => {
      if (snapshot.status !== "active") return snapshot
      // Stopped with its session (xstate sends this to every actor it stops): the pending
      // requests' timers go with it (the scheduler cancels this actor's), their callers learn it from the stop.
      if ((event as EventObject).type === "xstate.stop") return { ...snapshot, status: "stopped" } as OutboundRequestsSnapshot
      const runner = runnerOf(outer)
      // The table is this actor's own (the runner's); each step updates it in place (copying it would be O(n) per event).
      const table = runner.table
      switch (event.type) {
        case "REQUEST_SENT": {
          if (table.has(event.requestId)) return snapshot
          runner.current = event.requestId
          // The event is the chart's input (its `type` is not read): no copy per request.
          put(runner, event.requestId, initialSnapshot(runner, outer, event))
          return snapshotOf(snapshot, runner)
        }
        case "REQUEST_DEADLINE": {
          // Delivered (by the scheduler, or sent): not due again on the wheel (xstate's delay id is the event's type).
          if (runner.now !== undefined) unschedule(outer, runner, event.requestId, event.event.type)
          const before = chartOf(runner, event.requestId)
          if (before === undefined) return snapshot
          step(runner, outer, event.requestId, before, event.event)
          return snapshotOf(snapshot, runner)
        }
        case "DEADLINES_DUE": {
          if (runner.now === undefined) return snapshot
          const due = dueDeadlines(runner)
          let stepped = false
          for (const d of due) {
            const before = chartOf(runner, d.requestId)
            if (before === undefined) continue
            step(runner, outer, d.requestId, before, d.event)
            stepped = true
          }
          rearmWheel(outer, runner)
          return stepped ? snapshotOf(snapshot, runner) : snapshot
        }
        case "TRANSPORT_CLOSED": {
          const { requestId, ...closed } = event
          if (requestId !== undefined) {
            const before = chartOf(runner, requestId)
            if (before === undefined) return snapshot
            step(runner, outer, requestId, before, closed)
          } else {
            // In the order the requests were sent.
            for (const id of [...table.keys()]) step(runner, outer, id, chartOf(runner, id)!, closed)
          }
          return snapshotOf(snapshot, runner)
        }
        default: {
          // The event goes to the chart as it came (no copy without its \`requestId\`: the chart never reads it).
          const requestId = event.requestId
          const before = chartOf(runner, requestId)
          if (before === undefined) return snapshot
          step(runner, outer, requestId, before, event)
          return snapshotOf(snapshot, runner)
        }
      }
    },
    // Plain data already: a copy of the list (the live one changes with the next step).
    getPersistedSnapshot: (snapshot) => ({
      ...snapshot,
      context: { inFlight: snapshot.context.inFlight, requests: snapshot.context.requests.map((r) => ({ ...r })) }
    })
  }
}

/** The requests table's logic type, for `ActorRefFromLogic` and friends. */
export type OutboundRequestsLogic = ReturnType<typeof outboundRequestsLogic>
