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
 * - `keyOf` names every fact its guards, delays and action params read (it returns
 *   `undefined` for a step it does not vouch for: those take xstate's own path);
 * - its `assign`s only set scalar fields (strings, numbers, booleans: no object is shared
 *   between actors), the same on every run: each context the step makes is the actor's
 *   own context with those fields set (a step without `assign` keeps the actor's object);
 * - it spawns nothing and does not fail;
 * - its only effects are custom actions, delayed raises (`after`) and cancels;
 * - two runs give the same state value, microsteps and effects.
 * Snapshots are immutable in xstate (each step makes a new one), so the memo's state
 * nodes and transitions are shared; each replay makes its own snapshot object.
 *
 * @since 0.3.0
 */
import type { AnyActorScope, AnyStateMachine, EventObject } from "xstate"

interface Effect {
  readonly type: string
  readonly params: any
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
  readonly deltas: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>
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
      effects.push({ type: action.type, params: action.params, exec: builtIn ? undefined : action.exec as Effect["exec"], ctx: ctx(action.info.context as object) })
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

const shape = (m: Microstep): string =>
  JSON.stringify([m.snapshot.value, m.snapshot.status, m.ctx, m.effects.map((e) => [e.type, e.params, e.ctx])])

/** The scalar fields `context` sets on `base` (undefined: it is not `base` with scalar fields set). */
const deltaOf = (base: Record<string, unknown>, context: Record<string, unknown>): Record<string, unknown> | undefined => {
  const delta: Record<string, unknown> = {}
  for (const k of Object.keys(base)) if (!Object.hasOwn(context, k)) return undefined
  for (const k of Object.keys(context)) {
    const v = context[k]
    if (Object.hasOwn(base, k) && Object.is(v, base[k])) continue
    if (v !== null && (typeof v === "object" || typeof v === "function")) return undefined
    delta[k] = v
  }
  return delta
}

const memoOf = (machine: AnyStateMachine, scope: AnyActorScope, snapshot: any, event: EventObject): Memo | undefined => {
  const a = probe(machine, scope, snapshot, event)
  const b = probe(machine, scope, snapshot, event)
  for (const run of [a, b]) {
    if (!run.ok || run.result.status === "error") return undefined
    if (Object.keys(run.result.children ?? {}).length > 0 || run.result.output !== undefined) return undefined
  }
  if (a.contexts.length !== b.contexts.length) return undefined
  const deltas: Array<Record<string, unknown> | undefined> = [undefined]
  for (let i = 1; i < a.contexts.length; i++) {
    const d = deltaOf(snapshot.context, a.contexts[i] as Record<string, unknown>)
    const e = deltaOf(snapshot.context, b.contexts[i] as Record<string, unknown>)
    if (d === undefined || e === undefined || JSON.stringify(d) !== JSON.stringify(e)) return undefined
    deltas.push(d)
  }
  const resultCtx = a.contexts.indexOf(a.result.context)
  if (resultCtx < 0 || resultCtx !== b.contexts.indexOf(b.result.context)) return undefined
  if (a.microsteps.length !== b.microsteps.length || a.microsteps.length === 0) return undefined
  for (let i = 0; i < a.microsteps.length; i++) {
    const p = a.microsteps[i]!, q = b.microsteps[i]!
    if (shape(p) !== shape(q) || p.transitions !== q.transitions && JSON.stringify(p.transitions) !== JSON.stringify(q.transitions)) return undefined
    for (let j = 0; j < p.effects.length; j++) if (p.effects[j]!.exec !== q.effects[j]!.exec) return undefined
  }
  return { snapshot: a.result, ctx: resultCtx, microsteps: a.microsteps, deltas }
}


/**
 * `machine` (as `memoizeInitialSnapshot` returns it, or plain) with the steps `keyOf`
 * names memoized. `keyOf(snapshot, event)` returns the step's key (every fact the step
 * reads) or `undefined` (xstate's path). Everything else is the machine's own.
 */
export const memoizeTransitions = <M extends AnyStateMachine>(machine: M, keyOf: (snapshot: any, event: any) => string | undefined): M => {
  const memos = new Map<string, Memo | null>()
  const plain = machine.transition.bind(machine)
  const logic = Object.create(machine) as M
  logic.transition = function(snapshot: any, event: EventObject, scope: AnyActorScope) {
    if (snapshot.status !== "active") return plain(snapshot, event, scope)
    const key = keyOf(snapshot, event)
    let memo = key === undefined ? null : memos.get(key)
    if (memo === undefined) {
      memo = memos.size < LIMIT ? memoOf(machine, scope, snapshot, event) ?? null : null
      if (memos.size < LIMIT) memos.set(key!, memo)
    }
    if (memo === null) return plain(snapshot, event, scope)
    return replayStep(scope, snapshot, event, memo)
  } as M["transition"]
  return logic
}

const replayStep = (scope: AnyActorScope, snapshot: any, event: EventObject, memo: Memo): any => {
  // This actor's contexts of the step, made when first needed (as xstate's `assign` makes them).
  const contexts: Array<unknown> = [snapshot.context]
  const context = (i: number): unknown => contexts[i] ??= { ...snapshot.context, ...memo.deltas[i] }
  const args: Array<unknown> = []
  const last = memo.microsteps.length - 1
  let out: any
  for (let i = 0; i <= last; i++) {
    const step = memo.microsteps[i]!
    for (const effect of step.effects) {
      const params = effect.params
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
