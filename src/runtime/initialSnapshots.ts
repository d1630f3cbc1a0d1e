/**
 * A chart's initial step, computed once per input and replayed for every actor that
 * starts with that input.
 *
 * Why: every churned HTTP session starts the legacy server chart with the same input
 * (its server's deadlines; nothing elapsed, nothing in flight). xstate computes the
 * initial snapshot from scratch each time (context factory, entering the initial state,
 * resolving its `after` delays): about 13 % of a session's chart work in-process, 6-7 %
 * of the server's CPU per churned session end to end. The chart stays the truth: the
 * memo is what the chart's own `getInitialSnapshot` returned for that input, and its
 * effects (the delayed events it scheduled) are replayed through the actor's scope,
 * as xstate's `executeRaise` does them, `@xstate.action` inspection events included.
 *
 * A step is memoized only when it is safe to share:
 * - its only effects are delayed `raise`s (`after` deadlines): no other action ran;
 * - it spawned nothing (`children` empty), is `active`, and did not fail;
 * - two runs on two different scopes give the same state value, the same context
 *   (every field identical: a factory that allocates per actor, or captures `self`,
 *   is not shared), and the same delayed events.
 * Otherwise that input always takes xstate's own path. Snapshots are immutable in
 * xstate (each step makes a new one), so actors can start from one shared object.
 *
 * @since 0.3.0
 */
import type { AnyActorScope, AnyStateMachine, EventObject } from "xstate"

interface DelayedRaise {
  readonly event: EventObject
  readonly delay: number
  readonly id: string | undefined
}

interface Memo {
  readonly snapshot: unknown
  readonly raises: ReadonlyArray<DelayedRaise>
}

type Recorded = { readonly type: string; readonly params: unknown }

/** Most inputs remembered per chart (each is one snapshot); past it, new inputs take xstate's path. */
const LIMIT = 32

const sameContext = (a: unknown, b: unknown): boolean => {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b)
  const ka = Object.keys(a), kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) if (!Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  return true
}

/** The initial step of `machine` for `input`, run on a recording scope whose `self` is a stand-in. */
const probe = (machine: AnyStateMachine, scope: AnyActorScope, input: unknown): { snapshot: any; recorded: Array<Recorded>; deferred: number } => {
  const recorded: Array<Recorded> = []
  let deferred = 0
  const recording = {
    ...scope,
    self: { id: scope.self.id, sessionId: scope.self.sessionId } as AnyActorScope["self"],
    actionExecutor: (action: Recorded) => void recorded.push({ type: action.type, params: action.params }),
    defer: () => void deferred++
  } as unknown as AnyActorScope
  return { snapshot: machine.getInitialSnapshot(recording, input), recorded, deferred }
}

const memoOf = (machine: AnyStateMachine, scope: AnyActorScope, input: unknown): Memo | undefined => {
  const a = probe(machine, scope, input)
  const b = probe(machine, scope, input)
  for (const run of [a, b]) {
    if (run.snapshot.status !== "active" || run.deferred > 0) return undefined
    if (Object.keys(run.snapshot.children ?? {}).length > 0) return undefined
  }
  if (JSON.stringify(a.snapshot.value) !== JSON.stringify(b.snapshot.value)) return undefined
  if (!sameContext(a.snapshot.context, b.snapshot.context)) return undefined
  if (a.recorded.length !== b.recorded.length) return undefined
  const raises: Array<DelayedRaise> = []
  for (let i = 0; i < a.recorded.length; i++) {
    const r = a.recorded[i]!, q = b.recorded[i]!
    const p = r.params as Partial<DelayedRaise> | undefined
    if (r.type !== "xstate.raise" || typeof p?.delay !== "number" || p.event === undefined) return undefined
    if (q.type !== r.type || JSON.stringify(q.params) !== JSON.stringify(r.params)) return undefined
    raises.push({ event: p.event, delay: p.delay, id: p.id })
  }
  return { snapshot: a.snapshot, raises }
}

/**
 * `machine` with its initial step memoized for the inputs `keyOf` names (`undefined`:
 * not memoized, e.g. an input with time already elapsed). Everything else is the
 * machine's own (the result inherits from it), so actors of it run the same chart.
 */
export const memoizeInitialSnapshot = <M extends AnyStateMachine>(machine: M, keyOf: (input: any) => string | undefined): M => {
  const memos = new Map<string, Memo | null>()
  const logic = Object.create(machine) as M
  logic.getInitialSnapshot = function(scope: AnyActorScope, input: unknown) {
    const key = keyOf(input)
    let memo = key === undefined ? null : memos.get(key)
    if (memo === undefined) {
      memo = memos.size < LIMIT ? memoOf(machine, scope, input) ?? null : null
      if (memos.size < LIMIT) memos.set(key!, memo)
    }
    if (memo === null) return machine.getInitialSnapshot(scope, input)
    // The effects of the step, as the actor would have run them (deferred until it starts).
    for (const raise of memo.raises) {
      scope.actionExecutor({
        type: "xstate.raise",
        info: undefined as never,
        params: raise,
        exec: () => scope.defer(() => scope.system.scheduler.schedule(scope.self, scope.self, raise.event, raise.delay, raise.id))
      })
    }
    return memo.snapshot
  } as M["getInitialSnapshot"]
  return logic
}
