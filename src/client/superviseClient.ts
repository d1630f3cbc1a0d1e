/**
 * Keep a stdio client session alive: spawn the server, connect, and when the
 * session ends unexpectedly (the child crashed or was killed, the peer stopped
 * answering pings) spawn and connect again, with exponential backoff and
 * jitter, as `supervise` (`src/runtime/supervise.ts`) decides. A server that
 * keeps dying ends `parked` with the crash-loop reason; an expected end (our
 * own `close()`, a clean shutdown) ends `stopped`.
 *
 * Two faces over the same loop:
 * - {@link superviseClient}: an Effect that needs a `Scope`; closing the scope
 *   stops supervision, closes the running session and reaps its child.
 * - {@link runSupervisedClient}: plain Promises, for callers outside Effect;
 *   `stop()` does what closing the scope does. Its scope is the runtime's
 *   (`runtime` option, default the process's): the runtime's shutdown stops it.
 *
 * The one restart loop is the runtime's `supervise`, deciding with the one
 * restart policy (`decideRestart`, whose delay is the one backoff formula of
 * `src/protocol/backoff.ts`); this file only says how to connect. Each
 * connection is a supervised node of the runtime's tree (`connectStdio`).
 *
 * Each connection gets its own scope: the session, its child process and (in
 * the Effect face) its xstate timers are released together when it ends,
 * before the backoff delay starts, so a dead attempt never holds a process
 * while we wait.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import { defaultMcpRuntime } from "../runtime/McpRuntime.ts"
import { makeRestartPolicy, type RestartPolicy } from "../runtime/RestartPolicy.ts"
import type { SessionHandle } from "../runtime/SessionHandle.ts"
import { supervise, type SuperviseOptions, type SupervisionStatus } from "../runtime/supervise.ts"
import { makeEffectClock } from "../runtime/XStateClock.ts"
import type { SpawnError } from "../transports/stdioClient.ts"
import type { Client } from "./Client.ts"
import { connectStdio, type StdioConnectOptions } from "./connectStdio.ts"
import type { ConnectError } from "../protocol/requestErrors.ts"

export interface SuperviseClientOptions extends StdioConnectOptions {
  /** Restart tuning (backoff, jitter, reset after uptime, crash-loop window); see `RestartPolicy`. */
  readonly policy?: Partial<RestartPolicy>
  /** Drain deadline when supervision is stopped while a session runs. Default 2 000 ms. */
  readonly drainMs?: number
  /** Extra wait after `drainMs` before the connection's scope is closed regardless. Default 1 000 ms. */
  readonly closeGraceMs?: number
  /** Called on every status change, from the first `connecting` on (both faces). */
  readonly onStatus?: (status: SupervisionStatus) => void
}

/** A supervised client: the current session, the status, and a way to stop. */
export interface SupervisedClient {
  /** The status as an Effect `SubscriptionRef` (`SubscriptionRef.changes` for a stream). */
  readonly statusRef: SubscriptionRef.SubscriptionRef<SupervisionStatus>
  /** The status, synchronously. */
  status(): SupervisionStatus
  /** Listen to status changes; returns the unsubscribe function. */
  subscribe(listener: (status: SupervisionStatus) => void): () => void
  /** The running session, if any (undefined while connecting, in backoff, or once terminal). */
  session(): Client | undefined
  /** The running session, waiting for the next `running` status; fails with {@link SupervisionEnded} once terminal. */
  readonly ready: Effect.Effect<Client, SupervisionEnded>
  /** Completes with the terminal status (`parked` or `stopped`). */
  readonly done: Effect.Effect<SupervisionStatus>
  /** Stop supervising: the running session is closed (drained up to `drainMs`). Idempotent. */
  stop(options?: { readonly drainMs?: number; readonly reason?: string }): Effect.Effect<void>
}

/** Supervision reached a terminal status (`parked` or `stopped`) while someone waited for a session. */
export class SupervisionEnded extends Schema.TaggedError<SupervisionEnded>()("SupervisionEnded", {
  status: Schema.Literals(["parked", "stopped"]),
  reason: Schema.String,
  message: Schema.String
}) {}

const supervisionEnded = (s: SupervisionStatus): SupervisionEnded => {
  const status = s._tag === "parked" ? "parked" : "stopped"
  const reason = s._tag === "parked" || s._tag === "stopped" ? s.reason : s._tag
  return new SupervisionEnded({ status, reason, message: `supervision ${status}: ${reason}` })
}

const isTerminal = (s: SupervisionStatus): boolean => s._tag === "parked" || s._tag === "stopped"
const hasEnded = (session: Client): boolean => /^(closed|dead|failed)$/.test(session.state)

/**
 * One connection in the current scope: spawn, initialize, and on release close
 * the session *and* wait for the transport, so that the child process is gone
 * (and its pipes closed) before the scope is done. Without an explicit `clock`
 * the session's timers run on Effect's clock in this scope (`TestClock` drives
 * them in tests; they are interrupted when the connection ends).
 */
const connectOnce = (options: SuperviseClientOptions): Effect.Effect<Client, SpawnError | ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = options.clock ?? (yield* makeEffectClock)
    return yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => connectStdio({ ...options, clock }),
        catch: (e) => e as SpawnError | ConnectError
      }),
      (session) =>
        Effect.promise(async () => {
          await session.close({ drainMs: options.drainMs ?? 2_000 })
          await session.transport?.close()
        })
    )
  })

/**
 * Effect face: supervise a stdio client session in the current scope.
 *
 * The connect error of a failed attempt (`SpawnError`, `InitializeFailed`,
 * `UnsupportedProtocolVersion`) and the `SessionEnd` of a session that died
 * are reported as the status's `lastError`; they never fail this effect.
 */
export const superviseClient = (options: SuperviseClientOptions): Effect.Effect<SupervisedClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const policy = makeRestartPolicy(options.policy) // throws RangeError early on nonsense
    const superviseOptions: SuperviseOptions = {
      drainMs: options.drainMs ?? 2_000,
      ...(options.closeGraceMs !== undefined ? { closeGraceMs: options.closeGraceMs } : {})
    }
    const supervised = yield* supervise(
      connectOnce(options) as Effect.Effect<SessionHandle, SpawnError | ConnectError, Scope.Scope>,
      policy,
      superviseOptions
    )
    // Subscribed before the supervision fiber runs its first step, so `connecting(0)` is seen too.
    if (options.onStatus) supervised.subscribe(options.onStatus)
    const session = () => supervised.current() as Client | undefined
    const ready: Effect.Effect<Client, SupervisionEnded> = Effect.callback<Client, SupervisionEnded>((resume) => {
      const check = (s: SupervisionStatus): boolean => {
        // A session that just ended is still `running` until the loop has seen its end: wait for the next one.
        if (s._tag === "running" && !hasEnded(s.handle as Client)) {
          resume(Effect.succeed(s.handle as Client))
          return true
        }
        if (isTerminal(s)) {
          resume(Effect.fail(supervisionEnded(s)))
          return true
        }
        return false
      }
      if (check(supervised.getStatus())) return
      const unsubscribe = supervised.subscribe((s) => {
        if (check(s)) unsubscribe()
      })
      return Effect.sync(unsubscribe)
    })
    return {
      statusRef: supervised.status,
      status: supervised.getStatus,
      subscribe: supervised.subscribe,
      session,
      ready,
      done: supervised.done,
      stop: supervised.stop
    } satisfies SupervisedClient
  })

/** Promise face of {@link SupervisedClient}. */
export interface SupervisedClientHandle {
  status(): SupervisionStatus
  subscribe(listener: (status: SupervisionStatus) => void): () => void
  session(): Client | undefined
  /** The running session, or the next one; rejects with {@link SupervisionEnded} once supervision is terminal. */
  ready(): Promise<Client>
  /** Settles with the terminal status (`parked` or `stopped`). */
  readonly done: Promise<SupervisionStatus>
  /** Stop supervising, close the running session and reap its child. Idempotent. */
  stop(options?: { readonly drainMs?: number; readonly reason?: string }): Promise<void>
}

/**
 * Promise face: start supervising at once (the first spawn begins before this
 * returns) and hand back a handle. Nothing is left running after `stop()`
 * resolves; a parked supervision has already released everything.
 */
export const runSupervisedClient = (options: SuperviseClientOptions): SupervisedClientHandle => {
  // Forked from the runtime's supervisor: its shutdown drains the running session, then closes this scope.
  const scope = (options.runtime ?? defaultMcpRuntime()).supervisor.forkScopeUnsafe()
  const client = Effect.runSync(Scope.provide(scope)(superviseClient(options)))
  let stopping: Promise<void> | undefined
  return {
    status: client.status,
    subscribe: client.subscribe,
    session: client.session,
    ready: () => Effect.runPromise(client.ready),
    done: Effect.runPromise(client.done),
    stop: (opts) =>
      stopping ??= Effect.runPromise(
        client.stop(opts).pipe(Effect.andThen(Scope.close(scope, Exit.void)))
      )
  }
}
