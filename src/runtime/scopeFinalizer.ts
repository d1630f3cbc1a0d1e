/**
 * `Scope.addFinalizerExit` without a fiber: what the supervisor adds to every
 * session's scope. `Effect.runSync(Scope.addFinalizerExit(...))` starts a fiber
 * per session (about 2 % of HTTP session churn) and keys the finalizer by a new
 * `{}`; this writes the same entry synchronously, keyed by an object the caller
 * keeps anyway.
 *
 * It writes the documented `Scope.State` model (effect 4: `Empty`; `Open` with
 * one finalizer inline and a `finalizers` Map from the second; `Closed`) the way
 * effect's own `addFinalizerExit` does. test/runtime.scopeFinalizer.test.ts
 * fails if that model changes (then use `Scope.addFinalizerExit` again).
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"

/**
 * Add `finalizer` to `scope` under `key` (unique per scope), synchronously, as
 * `Scope.addFinalizerExit` would. On a scope that is closed already it runs at
 * once with the scope's exit (an effect it returns other than `Effect.void` is forked).
 */
export const addFinalizerUnsafe = (
  scope: Scope.Scope,
  key: object,
  finalizer: (exit: Exit.Exit<any, any>) => Effect.Effect<void>
): void => {
  const state = scope.state
  switch (state._tag) {
    case "Empty":
      scope.state = { _tag: "Open", finalizerKey: key, finalizer, finalizers: undefined }
      return
    case "Open": {
      if (state.finalizer !== undefined) {
        state.finalizers = new Map([[state.finalizerKey!, state.finalizer]])
        state.finalizerKey = undefined
        state.finalizer = undefined
      }
      state.finalizers!.set(key, finalizer)
      return
    }
    case "Closed": {
      const rest = finalizer(state.exit)
      if (rest !== Effect.void) Effect.runFork(rest)
      return
    }
  }
}
