import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { describe, expect, it } from "vitest"
import { addFinalizerUnsafe } from "../src/runtime/scopeFinalizer.ts"

// addFinalizerUnsafe writes effect's documented Scope.State model itself (no fiber per session).
// These tests fail loudly if effect changes that model or how `close` reads it.
describe("addFinalizerUnsafe (the supervisor's per-session finalizer)", () => {
  it("writes the same state effect's own addFinalizerExit writes (one inline, a Map from the second)", () => {
    const ours = Scope.makeUnsafe()
    const theirs = Scope.makeUnsafe()
    const key = {}
    const f = () => Effect.void
    addFinalizerUnsafe(ours, key, f)
    Effect.runSync(Scope.addFinalizerExit(theirs, f))
    expect(Object.keys(ours.state).sort()).toEqual(Object.keys(theirs.state).sort())
    expect(ours.state).toMatchObject({ _tag: "Open", finalizerKey: key, finalizer: f, finalizers: undefined })
    expect(theirs.state).toMatchObject({ _tag: "Open", finalizer: f, finalizers: undefined })
    addFinalizerUnsafe(ours, {}, f)
    Effect.runSync(Scope.addFinalizerExit(theirs, f))
    const [o, t] = [ours.state, theirs.state]
    if (o._tag !== "Open" || t._tag !== "Open") throw new Error("expected open scopes")
    expect([o.finalizer, o.finalizerKey, o.finalizers?.size]).toEqual([undefined, undefined, 2])
    expect([t.finalizer, t.finalizerKey, t.finalizers?.size]).toEqual([undefined, undefined, 2])
  })

  it("runs with effect's own finalizers and child scopes, last added first, with the scope's exit", async () => {
    const scope = Scope.makeUnsafe("sequential")
    const ran: Array<string> = []
    const exits: Array<unknown> = []
    Effect.runSync(Scope.addFinalizer(scope, Effect.sync(() => ran.push("effect-1"))))
    addFinalizerUnsafe(scope, {}, (exit) => {
      ran.push("ours-1")
      exits.push(exit)
      return Effect.void
    })
    const child = Scope.forkUnsafe(scope, "sequential")
    Effect.runSync(Scope.addFinalizer(child, Effect.sync(() => ran.push("child"))))
    addFinalizerUnsafe(scope, {}, () => {
      ran.push("ours-2")
      return Effect.void
    })
    const exit = Exit.succeed("done")
    await Effect.runPromise(Scope.close(scope, exit))
    expect(ran).toEqual(["ours-2", "child", "ours-1", "effect-1"])
    expect(exits).toEqual([exit])
    expect(scope.state._tag).toBe("Closed")
  })

  it("a single finalizer runs from Scope.closeUnsafe synchronously; removing a child scope keeps it", () => {
    const parent = Scope.makeUnsafe()
    const scope = Scope.forkUnsafe(parent)
    let ran = 0
    addFinalizerUnsafe(scope, {}, () => {
      ran++
      return Effect.void
    })
    // The supervisor closes a session's scope with closeUnsafe and expects its finalizer to have run on return.
    const rest = Scope.closeUnsafe(scope, Exit.void)
    expect(ran).toBe(1)
    expect(rest === undefined || rest === Effect.void).toBe(true)
    // ...and the session's scope left its parent (no entry per ended session).
    expect(parent.state._tag).toBe("Empty")
  })

  it("on a closed scope the finalizer runs at once with that scope's exit", () => {
    const scope = Scope.makeUnsafe()
    Scope.closeUnsafe(scope, Exit.fail("gone"))
    const seen: Array<unknown> = []
    addFinalizerUnsafe(scope, {}, (exit) => {
      seen.push(exit)
      return Effect.void
    })
    expect(seen).toHaveLength(1)
    expect(Exit.isFailure(seen[0] as Exit.Exit<unknown, unknown>)).toBe(true)
  })
})
