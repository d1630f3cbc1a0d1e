/**
 * Keep a (client) session running: connect, wait for it to end, and reconnect
 * with backoff as {@link decideRestart} says, until it ends on purpose, is
 * stopped, or crash-loops.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import {
  decideRestart,
  initialRestartState,
  makeRestartPolicy,
  type RestartEvent,
  type RestartPolicy,
  type RestartState
} from "./RestartPolicy.ts"
import type { SessionHandle } from "./SessionHandle.ts"
import { awaitEnded } from "./Supervisor.ts"

/** Where supervision stands. `parked` and `stopped` are terminal. */
export type SupervisionStatus =
  /** Connecting; `attempt` is 0 for the first connection, then the restart number. */
  | { readonly _tag: "connecting"; readonly attempt: number }
  | { readonly _tag: "running"; readonly handle: SessionHandle }
  /** Waiting `delayMs` before restart number `attempt`. `lastError` is the connect error or the `SessionEnd`. */
  | { readonly _tag: "backoff"; readonly attempt: number; readonly delayMs: number; readonly lastError: unknown }
  /** Crash loop: supervision gave up. */
  | { readonly _tag: "parked"; readonly reason: string; readonly lastError: unknown }
  /** Ended on purpose (an expected session end, `stop`, or the owning scope closed). */
  | { readonly _tag: "stopped"; readonly reason: string }

export interface SuperviseOptions {
  /** Drain deadline given to `handle.close` when supervision is stopped while running. Default 5 000 ms. */
  readonly drainMs?: number
  /** Extra wait after `drainMs` before the session's scope is closed regardless. Default 1 000 ms. */
  readonly closeGraceMs?: number
}

/** A session under `supervise`: its status as it restarts, and a way to stop supervising. */
export interface Supervised {
  /** The status, as an Effect `SubscriptionRef` (`SubscriptionRef.changes` for a stream). */
  readonly status: SubscriptionRef.SubscriptionRef<SupervisionStatus>
  /** The status, synchronously. */
  getStatus(): SupervisionStatus
  /** Plain listener, called on every status change; returns the unsubscribe function. */
  subscribe(listener: (status: SupervisionStatus) => void): () => void
  /** The running session, if any. */
  current(): SessionHandle | undefined
  /** Completes with the terminal status (`parked` or `stopped`). */
  readonly done: Effect.Effect<SupervisionStatus>
  /**
   * Stop supervising: a running session is closed with `drainMs` (default:
   * the `SuperviseOptions` one) and its scope released. Idempotent.
   */
  stop(options?: { readonly drainMs?: number; readonly reason?: string }): Effect.Effect<void>
}

type Outcome =
  | { readonly _tag: "expected"; readonly reason: string }
  | { readonly _tag: "failed"; readonly event: RestartEvent; readonly error: unknown }

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message
  if (typeof error === "string") return error
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

const isTerminal = (status: SupervisionStatus): boolean => status._tag === "parked" || status._tag === "stopped"

/**
 * Supervise `connect` in a fiber owned by the current scope; closing that
 * scope stops supervision and closes the session.
 *
 * Each connection runs in its own scope, closed when the session ends (or
 * connecting fails), before the backoff delay starts, so a failed attempt
 * never holds resources while we wait. Delays use `Effect.sleep`, so
 * `TestClock` drives them.
 *
 * Why not `Effect.retry(Schedule…)`: the policy must reset its attempt
 * counter after *sustained uptime* and detect crash loops over a sliding
 * window of failure times. A `Schedule` sees only its own recurrences (v4 has
 * no `Schedule.resetAfter`) and would treat a session that ran for an hour
 * like one that died at once; and retry is driven by failures, while a
 * session that *ended* is a success of `connect`. So the state lives in
 * {@link RestartState} and the pure {@link decideRestart} computes each delay.
 */
export const supervise = <E>(
  connect: Effect.Effect<SessionHandle, E, Scope.Scope>,
  policy: Partial<RestartPolicy> = {},
  options: SuperviseOptions = {}
): Effect.Effect<Supervised, never, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = makeRestartPolicy(policy)
    const closeGraceMs = options.closeGraceMs ?? 1_000
    const status = yield* SubscriptionRef.make<SupervisionStatus>({ _tag: "connecting", attempt: 0 })
    const done = yield* Deferred.make<SupervisionStatus>()
    const listeners = new Set<(status: SupervisionStatus) => void>()
    let current: SessionHandle | undefined
    let stopRequest = { drainMs: options.drainMs ?? 5_000, reason: "supervision stopped" }

    const setStatus = (next: SupervisionStatus) =>
      Effect.suspend(() => {
        if (isTerminal(SubscriptionRef.getUnsafe(status))) return Effect.void
        return SubscriptionRef.set(status, next).pipe(
          Effect.andThen(Effect.sync(() => {
            for (const listener of Array.from(listeners)) {
              try {
                listener(next)
              } catch {
                // A listener's failure must not break supervision.
              }
            }
          })),
          Effect.andThen(isTerminal(next) ? Deferred.succeed(done, next) : Effect.void)
        )
      })

    /** One connection, in its own scope: returns how it ended. */
    const runOnce: Effect.Effect<Outcome, never, Scope.Scope> = Effect.gen(function*() {
      const connected = yield* Effect.exit(connect)
      if (Exit.isFailure(connected)) {
        const error = Cause.squash(connected.cause)
        return {
          _tag: "failed",
          event: { type: "connect-failed", reason: `connect failed: ${describe(error)}` },
          error
        } as const
      }
      const handle = connected.value
      current = handle
      yield* Effect.addFinalizer((exit) =>
        Effect.suspend(() => {
          current = undefined
          if (Exit.isSuccess(exit)) return Effect.void
          // Interrupted (stop, or the owner's scope closed) while running: close gracefully first.
          return Effect.tryPromise(() => handle.close(stopRequest)).pipe(
            Effect.timeoutOption(stopRequest.drainMs + closeGraceMs),
            Effect.ignore
          )
        })
      )
      const startedAt = yield* Clock.currentTimeMillis
      yield* setStatus({ _tag: "running", handle })
      const end = yield* awaitEnded(handle)
      if (end.expected) return { _tag: "expected", reason: end.reason } as const
      const now = yield* Clock.currentTimeMillis
      return {
        _tag: "failed",
        event: { type: "ended", reason: end.reason, uptimeMs: now - startedAt },
        error: end
      } as const
    })

    const loop = Effect.gen(function*() {
      let state: RestartState = initialRestartState
      let attempt = 0
      while (true) {
        yield* setStatus({ _tag: "connecting", attempt })
        const outcome = yield* Effect.scoped(runOnce)
        if (outcome._tag === "expected") {
          return yield* setStatus({ _tag: "stopped", reason: outcome.reason })
        }
        const now = yield* Clock.currentTimeMillis
        const random = yield* Random.next
        const decision = decideRestart(resolved, state, outcome.event, now, random)
        state = decision.state
        if (decision.next === "parked") {
          return yield* setStatus({ _tag: "parked", reason: decision.reason, lastError: outcome.error })
        }
        attempt = decision.attempt
        yield* Effect.logDebug(`restarting in ${decision.delayMs} ms (attempt ${attempt}): ${outcome.event.reason}`)
        yield* setStatus({ _tag: "backoff", attempt, delayMs: decision.delayMs, lastError: outcome.error })
        yield* Effect.sleep(decision.delayMs)
      }
    }).pipe(
      // A defect in supervision itself (a throwing `connect` body, a bug) must
      // not leave the status stuck on "running" or "backoff": park with it.
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : setStatus({
            _tag: "parked",
            reason: `supervision crashed: ${describe(Cause.squash(cause))}`,
            lastError: Cause.squash(cause)
          })
      ),
      Effect.onInterrupt(() => Effect.suspend(() => setStatus({ _tag: "stopped", reason: stopRequest.reason })))
    )

    const fiber = yield* Effect.forkScoped(loop)

    return {
      status,
      getStatus: () => SubscriptionRef.getUnsafe(status),
      subscribe: (listener) => {
        const wrapped = (s: SupervisionStatus) => listener(s)
        listeners.add(wrapped)
        return () => {
          listeners.delete(wrapped)
        }
      },
      current: () => current,
      done: Deferred.await(done),
      stop: (opts = {}) =>
        Effect.suspend(() => {
          stopRequest = {
            drainMs: opts.drainMs ?? stopRequest.drainMs,
            reason: opts.reason ?? stopRequest.reason
          }
          return Fiber.interrupt(fiber)
        })
    } satisfies Supervised
  })
