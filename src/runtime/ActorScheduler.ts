/**
 * A lean replacement for the scheduler of an xstate actor system (the part that
 * runs `after` delays and delayed `sendTo`/`raise`).
 *
 * Why: xstate 5's scheduler keys every pending delay as `"<sessionId>.<delayId>"`
 * in two plain objects. Session ids come from a process-wide counter, so every
 * actor writes property names no other actor uses, and V8 builds a new hidden
 * class for each one (then collects it). With one short-lived actor per HTTP
 * session that was the single most expensive frame of session churn (about 7 % of
 * the server's CPU, plus the GC it causes). Here the root actor's delays live in
 * a `Map` keyed by the delay id alone; other actors of the same system (children)
 * are keyed with their session id, as xstate does.
 *
 * `ActorSystem.scheduler` is part of xstate's public `ActorSystem` type; what this
 * gives up is `system.getSnapshot()._scheduledEvents` (always empty here), which we
 * never use: a hibernated session re-arms its timers on `RESUMED` instead.
 *
 * It still pays (2026-12: 15–17 µs less CPU per churned session, 0.71–0.77× of
 * xstate's scheduler in `bench/actorScheduler.ts`). It relies on xstate internals
 * (`system._clock`, `system._relay`, a writable `system.scheduler`):
 * `test/runtime.actorScheduler.test.ts` fails loudly when an upgrade moves them.
 * The fix proposed upstream is `docs/upstream/xstate-scheduler.patch`.
 *
 * @since 0.1.0
 */
import { type Actor, type ActorOptions, type AnyActorLogic, type AnyActorRef, createActor, type EventObject } from "xstate"
import { inspection } from "./inspection.ts"

interface SchedulingSystem {
  readonly _clock: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void }
  scheduler: {
    schedule(source: AnyActorRef, target: AnyActorRef, event: EventObject, delay: number, id: string | undefined): void
    cancel(source: AnyActorRef, id: string): void
    cancelAll(actorRef: AnyActorRef): void
  }
  /** xstate's delivery path (emits the inspection event with the right source); not in its public type. */
  _relay?: (source: AnyActorRef | undefined, target: AnyActorRef, event: EventObject) => void
}

let anonymous = 0

/**
 * Give `actor`'s system the lean scheduler (timers still run on the actor's
 * `clock`). Call it after `createActor` and before `start()`: entry delays are
 * scheduled on start. Returns the actor.
 */
export const useLeanScheduler = <A extends AnyActorRef>(actor: A): A => {
  const system = actor.system as unknown as SchedulingSystem
  const clock = system._clock
  const timers = new Map<string, { readonly source: AnyActorRef; readonly handle: unknown }>()
  const keyOf = (source: AnyActorRef, id: string) => (source === actor ? id : `${source.sessionId}.${id}`)
  const deliver = (source: AnyActorRef, target: AnyActorRef, event: EventObject) => {
    if (system._relay) system._relay(source, target, event)
    else target.send(event)
  }
  const cancel = (source: AnyActorRef, id: string) => {
    const key = keyOf(source, id)
    const timer = timers.get(key)
    if (timer === undefined) return
    timers.delete(key)
    clock.clearTimeout(timer.handle)
  }
  system.scheduler = {
    schedule: (source, target, event, delay, id = `anonymous.${anonymous++}`) => {
      // Re-scheduling a pending id replaces it (xstate would leave the old timer running).
      cancel(source, id)
      const key = keyOf(source, id)
      const handle = clock.setTimeout(() => {
        timers.delete(key)
        deliver(source, target, event)
      }, delay)
      timers.set(key, { source, handle })
    },
    cancel,
    cancelAll: (actorRef) => {
      for (const [key, timer] of timers) {
        if (timer.source !== actorRef) continue
        timers.delete(key)
        clock.clearTimeout(timer.handle)
      }
    }
  }
  return actor
}

let creationObserver: ((actor: AnyActorRef) => void) | undefined

/**
 * Read-only introspection: be told of every actor the runtime creates from now
 * on (one observer at a time; returns the function that removes it).
 *
 * Why: the deterministic simulation (`test/sim/`) checks that no actor is left
 * running once every session has ended. Every actor of this runtime is made by
 * {@link createLeanActor}, so this one hook sees them all; with no observer the
 * cost is one comparison per actor.
 */
export const observeActorCreation = (observer: (actor: AnyActorRef) => void): () => void => {
  if (creationObserver !== undefined) throw new Error("observeActorCreation: an observer is already installed")
  creationObserver = observer
  return () => {
    if (creationObserver === observer) creationObserver = undefined
  }
}

/** `createActor` with the lean scheduler: what every actor of this runtime is made with. */
export const createLeanActor = <TLogic extends AnyActorLogic>(logic: TLogic, options?: ActorOptions<TLogic>): Actor<TLogic> => {
  // The inspection hub's observer, only while someone listens (see inspection.ts).
  const inspect = inspection.observer
  if (inspect !== undefined && options?.inspect === undefined) options = { ...options, inspect } as ActorOptions<TLogic>
  const actor = useLeanScheduler(createActor(logic, options as never) as Actor<TLogic>)
  if (creationObserver !== undefined) creationObserver(actor)
  return actor
}
