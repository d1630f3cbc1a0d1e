/**
 * A chart's deterministic steps computed once per (state, facts) and replayed for every
 * actor that takes the same step.
 *
 * Why: every churned HTTP session takes the same steps (`initialized` → `operating` …).
 * xstate recomputes each from scratch (transition selection, exit/entry sets, the new
 * state value, action resolution, delays): about 20 µs a step. The chart stays the
 * truth: the memo is what the chart's own `transition` returned for those facts, and
 * its effects are replayed through the actor's scope in the order xstate ran them:
 * custom actions (the runtime's effects, with this actor's `self`, event and context),
 * delayed raises and cancels (the actor's timers), `@xstate.action` and
 * `@xstate.microstep` inspection events included.
 *
 * A step is memoized only when it is safe to share:
 * - `keyOf` names every fact its guards, delays and action params read, but the per-actor
 *   values it only copies (it returns `undefined` for a step it does not vouch for: those
 *   take xstate's own path);
 * - its `assign`s only set scalar fields (strings, numbers, booleans: no object is shared
 *   between actors), the same on every run, or copy one of the event's per-actor values
 *   (`perActor`: a request id, the client's capabilities object): each context the step
 *   makes is the actor's own context with those fields set (a step without `assign` keeps
 *   the actor's object);
 * - action params are the same on every run, or copy per-actor values into the same places
 *   (`{ id: event.id }`): the second run gets the event with every per-actor value replaced
 *   (another id; a copy of each object with other strings and numbers), and only those
 *   places may differ;
 * - it spawns nothing and does not fail;
 * - its only effects are custom actions, delayed raises (`after`) and cancels;
 * - two runs give the same state value, microsteps and effects.
 * Snapshots are immutable in xstate (each step makes a new one), so the memo's state
 * nodes and transitions are shared; each replay makes its own snapshot object.
 *
 * @since 0.3.0
 */
import type { AnyActorScope, AnyStateMachine, EventObject } from "xstate"

/**
 * A value of the step as a template over the event's per-actor values: the same for every
 * actor (`v`), the actor's own per-actor value number `slot`, or an object made per actor.
 */
type Template =
  | { readonly k: "const"; readonly v: unknown }
  | { readonly k: "slot"; readonly slot: number }
  | { readonly k: "object"; readonly fields: ReadonlyArray<readonly [string, Template]> }

interface Effect {
  readonly type: string
  /** The params as the first run resolved them (shared when the template is `const`). */
  readonly params: any
  readonly template: Template
  /** The custom action's implementation (called as xstate does: `(args, params)`); undefined for built-ins. */
  readonly exec: ((args: unknown, params: unknown) => void) | undefined
  /** The context the action saw (index into the step's contexts; 0: the actor's own). */
  readonly ctx: number
}

interface Microstep {
  readonly effects: ReadonlyArray<Effect>
  readonly snapshot: any
  readonly ctx: number
  readonly transitions: unknown
}

interface Memo {
  readonly snapshot: any
  readonly ctx: number
  readonly microsteps: ReadonlyArray<Microstep>
  /** The contexts the step made, as the fields each sets on the actor's own (index 0: none, the actor's object). */
  readonly deltas: ReadonlyArray<Delta | undefined>
}

interface Delta {
  /** Scalar fields, the same for every actor. */
  readonly fields: Readonly<Record<string, unknown>>
  /** Fields that copy a per-actor value: [field, slot]. */
  readonly slots: ReadonlyArray<readonly [string, number]>
}

/**
 * The values of an event that a step only copies (into its context or action params) and
 * never decides on: a request's id, objects the client sent. The memo is shared by events
 * that differ in them; each replay copies the actor's own.
 */
export interface PerActor<E> {
  /** The event's per-actor values, or undefined: it has none. */
  readonly of: (event: E) => ReadonlyArray<unknown> | undefined
  /** `event` with its per-actor values replaced by `values` (same order). */
  readonly with: (event: E, values: ReadonlyArray<unknown>) => E
}

/** Most steps remembered per chart; past it, new steps take xstate's path. */
const LIMIT = 64

const BUILT_INS = new Set(["xstate.raise", "xstate.cancel"])

/** One run of `machine`'s step, on a scope that records its effects and inspection events instead of running them. */
const probe = (machine: AnyStateMachine, scope: AnyActorScope, snapshot: any, event: EventObject): { result: any; microsteps: Array<Microstep>; contexts: Array<object>; ok: boolean } => {
  const microsteps: Array<Microstep> = []
  const contexts: Array<object> = [snapshot.context]
  const ctx = (c: object): number => {
    const i = contexts.indexOf(c)
    return i >= 0 ? i : contexts.push(c) - 1
  }
  let effects: Array<Effect> = []
  let ok = true
  const system = {
    ...scope.system,
    _sendInspectionEvent: (e: any) => {
      if (e.type !== "@xstate.microstep") return void (ok = false)
      microsteps.push({ effects, snapshot: e.snapshot, ctx: ctx(e.snapshot.context), transitions: e._transitions })
      effects = []
    }
  }
  const recording = {
    ...scope,
    system,
    self: { id: scope.self.id, sessionId: scope.self.sessionId } as AnyActorScope["self"],
    actionExecutor: (action: { type: string; info: { context: unknown }; params: unknown; exec: unknown }) => {
      const builtIn = BUILT_INS.has(action.type)
      if (builtIn && action.type === "xstate.raise" && typeof (action.params as { delay?: unknown })?.delay !== "number") ok = false
      if (!builtIn && (typeof action.exec !== "function" || "resolve" in (action.exec as object))) ok = false
      effects.push({ type: action.type, params: action.params, template: CONST, exec: builtIn ? undefined : action.exec as Effect["exec"], ctx: ctx(action.info.context as object) })
    },
    defer: () => void (ok = false),
    emit: () => void (ok = false),
    stopChild: () => void (ok = false)
  } as unknown as AnyActorScope
  let result: any
  try {
    result = machine.transition(snapshot, event, recording)
  } catch {
    return { result: undefined, microsteps, contexts, ok: false }
  }
  if (effects.length > 0) ok = false // effects after the last microstep (stopping children): not a plain step
  return { result, microsteps, contexts, ok }
}

const CONST: Template = { k: "const", v: undefined }

const shape = (m: Microstep): string =>
  JSON.stringify([m.snapshot.value, m.snapshot.status, m.ctx, m.effects.map((e) => [e.type, e.ctx])])

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)

/**
 * What a value of the first run (`a`, per-actor values `sa`) and the second (`b`, `sb`) have in
 * common: the same value (or equal plain data), a per-actor value copied, or an object whose
 * fields are; undefined when they differ otherwise (the step depends on more than its key).
 */
const templateOf = (a: unknown, b: unknown, sa: ReadonlyArray<unknown>, sb: ReadonlyArray<unknown>, depth = 0): Template | undefined => {
  if (Object.is(a, b)) return { k: "const", v: a }
  for (let j = 0; j < sa.length; j++) if (Object.is(a, sa[j]) && Object.is(b, sb[j])) return { k: "slot", slot: j }
  if (depth > 4 || !isPlainObject(a) || !isPlainObject(b)) return undefined
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return undefined
  const fields: Array<readonly [string, Template]> = []
  let same = true
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) return undefined
    const t = templateOf(a[k], b[k], sa, sb, depth + 1)
    if (t === undefined) return undefined
    if (t.k !== "const") same = false
    fields.push([k, t])
  }
  // Equal data made afresh by each run (an event object of a delayed raise): the first run's is shared, as before.
  return same ? { k: "const", v: a } : { k: "object", fields }
}

const build = (t: Template, slots: ReadonlyArray<unknown>): unknown => {
  if (t.k === "const") return t.v
  if (t.k === "slot") return slots[t.slot]
  const o: Record<string, unknown> = {}
  for (const [k, f] of t.fields) o[k] = build(f, slots)
  return o
}

/**
 * The fields context `a` (first run) and `b` (second run) set on `base`: scalars equal in both
 * runs, or per-actor values copied (undefined: it is not `base` with such fields set).
 */
const deltaOf = (base: Record<string, unknown>, a: Record<string, unknown>, b: Record<string, unknown>, sa: ReadonlyArray<unknown>, sb: ReadonlyArray<unknown>): Delta | undefined => {
  const fields: Record<string, unknown> = {}
  const slots: Array<readonly [string, number]> = []
  for (const k of Object.keys(base)) if (!Object.hasOwn(a, k) || !Object.hasOwn(b, k)) return undefined
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return undefined
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) return undefined
    const va = a[k], vb = b[k]
    if (Object.hasOwn(base, k) && Object.is(va, base[k]) && Object.is(vb, base[k])) continue
    const t = templateOf(va, vb, sa, sb, 5) // depth 5: no object made per actor in a context
    if (t === undefined) return undefined
    if (t.k === "slot") slots.push([k, t.slot])
    else if (t.k !== "const") return undefined
    else if (t.v !== null && (typeof t.v === "object" || typeof t.v === "function")) return undefined
    else fields[k] = t.v
  }
  return { fields, slots }
}

/**
 * Another value of the same kind as `v` (the second run's per-actor value `j`): a different id;
 * for an object, a copy whose every string and number differs too, so that data the step derives
 * from it (a copy of its fields) differs between the runs and is never taken for a constant.
 */
const other = (v: unknown, j: number): unknown =>
  typeof v === "number" ? v + j + 0.5
    : typeof v === "string" ? `${v}\u0000${j}`
    : Array.isArray(v) || isPlainObject(v) ? otherData(v, j, 0)
    : Symbol(`per-actor ${j}`)

const otherData = (v: unknown, j: number, depth: number): unknown => {
  if (typeof v === "number" || typeof v === "string") return other(v, j)
  if (depth > 32) return v
  if (Array.isArray(v)) return v.map((x) => otherData(x, j, depth + 1))
  if (!isPlainObject(v)) return v
  const o: Record<string, unknown> = {}
  for (const k of Object.keys(v)) o[k] = otherData(v[k], j, depth + 1)
  return o
}

/** The two runs' per-actor values are told apart: no value of either run equals another. */
const distinct = (values: ReadonlyArray<unknown>): boolean => {
  for (let i = 0; i < values.length; i++) for (let j = i + 1; j < values.length; j++) if (Object.is(values[i], values[j])) return false
  return true
}

const memoOf = <E extends EventObject>(machine: AnyStateMachine, scope: AnyActorScope, snapshot: any, event: E, perActor: PerActor<E> | undefined): Memo | undefined => {
  const sa = perActor?.of(event) ?? []
  const sb = sa.map(other)
  if (!distinct([...sa, ...sb])) return undefined
  const a = probe(machine, scope, snapshot, event)
  const b = probe(machine, scope, snapshot, sa.length === 0 ? event : perActor!.with(event, sb))
  for (const run of [a, b]) {
    if (!run.ok || run.result.status === "error") return undefined
    if (Object.keys(run.result.children ?? {}).length > 0 || run.result.output !== undefined) return undefined
  }
  if (a.contexts.length !== b.contexts.length) return undefined
  const deltas: Array<Delta | undefined> = [undefined]
  for (let i = 1; i < a.contexts.length; i++) {
    const d = deltaOf(snapshot.context, a.contexts[i] as Record<string, unknown>, b.contexts[i] as Record<string, unknown>, sa, sb)
    if (d === undefined) return undefined
    deltas.push(d)
  }
  const resultCtx = a.contexts.indexOf(a.result.context)
  if (resultCtx < 0 || resultCtx !== b.contexts.indexOf(b.result.context)) return undefined
  if (a.microsteps.length !== b.microsteps.length || a.microsteps.length === 0) return undefined
  const microsteps: Array<Microstep> = []
  for (let i = 0; i < a.microsteps.length; i++) {
    const p = a.microsteps[i]!, q = b.microsteps[i]!
    if (shape(p) !== shape(q) || p.transitions !== q.transitions && JSON.stringify(p.transitions) !== JSON.stringify(q.transitions)) return undefined
    const effects: Array<Effect> = []
    for (let j = 0; j < p.effects.length; j++) {
      const e = p.effects[j]!
      if (e.exec !== q.effects[j]!.exec) return undefined
      const template = templateOf(e.params, q.effects[j]!.params, sa, sb)
      if (template === undefined) return undefined
      effects.push({ ...e, template })
    }
    microsteps.push({ ...p, effects })
  }
  return { snapshot: a.result, ctx: resultCtx, microsteps, deltas }
}


/**
 * `machine` (as `memoizeInitialSnapshot` returns it, or plain) with the steps `keyOf`
 * names memoized. `keyOf(snapshot, event)` returns the step's key (every fact the step
 * decides on) or `undefined` (xstate's path); `perActor` names the event's values the
 * step only copies (not in the key). Everything else is the machine's own.
 */
export const memoizeTransitions = <M extends AnyStateMachine>(machine: M, keyOf: (snapshot: any, event: any) => string | undefined, perActor?: PerActor<any>): M => {
  const memos = new Map<string, Memo | null>()
  const plain = machine.transition.bind(machine)
  const logic = Object.create(machine) as M
  logic.transition = function(snapshot: any, event: EventObject, scope: AnyActorScope) {
    if (snapshot.status !== "active") return plain(snapshot, event, scope)
    const key = keyOf(snapshot, event)
    let memo = key === undefined ? null : memos.get(key)
    if (memo === undefined) {
      memo = memos.size < LIMIT ? memoOf(machine, scope, snapshot, event, perActor) ?? null : null
      if (memos.size < LIMIT) memos.set(key!, memo)
    }
    if (memo === null) return plain(snapshot, event, scope)
    return replayStep(scope, snapshot, event, memo, perActor?.of(event) ?? NONE)
  } as M["transition"]
  return logic
}

const NONE: ReadonlyArray<unknown> = []

const replayStep = (scope: AnyActorScope, snapshot: any, event: EventObject, memo: Memo, slots: ReadonlyArray<unknown>): any => {
  // This actor's contexts of the step, made when first needed (as xstate's `assign` makes them).
  const contexts: Array<unknown> = [snapshot.context]
  const context = (i: number): unknown => {
    let c = contexts[i] as Record<string, unknown> | undefined
    if (c === undefined) {
      const delta = memo.deltas[i]!
      const made: Record<string, unknown> = { ...snapshot.context, ...delta.fields }
      for (const [k, j] of delta.slots) made[k] = slots[j]
      contexts[i] = c = made
    }
    return c
  }
  const args: Array<unknown> = []
  const last = memo.microsteps.length - 1
  let out: any
  for (let i = 0; i <= last; i++) {
    const step = memo.microsteps[i]!
    for (const effect of step.effects) {
      const params = effect.template.k === "const" ? effect.params : build(effect.template, slots) as any
      const exec = effect.exec !== undefined
        ? effect.exec
        : effect.type === "xstate.raise"
        ? () => scope.defer(() => scope.system.scheduler.schedule(scope.self, scope.self, params.event, params.delay, params.id))
        : () => scope.defer(() => scope.system.scheduler.cancel(scope.self, params.sendId))
      const info = args[effect.ctx] ??= { context: context(effect.ctx), event, self: scope.self, system: scope.system }
      scope.actionExecutor({ type: effect.type, info: info as never, params, exec })
    }
    out = i === last ? { ...memo.snapshot, context: context(memo.ctx) } : { ...step.snapshot, context: context(step.ctx) }
    ;(scope.system as unknown as { _sendInspectionEvent(e: unknown): void })._sendInspectionEvent({ type: "@xstate.microstep", actorRef: scope.self, event, snapshot: out, _transitions: step.transitions } as never)
  }
  return out
}
