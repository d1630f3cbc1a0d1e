import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { describe, expect, it } from "vitest"
import { ScopeGroup } from "../src/runtime/ScopeGroup.ts"

const finalizerCount = (scope: Scope.Scope): number => {
  const state = scope.state
  return state._tag !== "Open" ? 0 : state.finalizers?.size ?? 1
}

// Session scopes under a long-lived parent: closed with it like `Scope.forkUnsafe` children,
// but one finalizer on the parent for all of them (its Map does not see every session: see ScopeGroup.ts).
describe("ScopeGroup", () => {
  it("children close with the parent, the newest first, with its exit; the parent holds one finalizer", async () => {
    const parent = Scope.makeUnsafe("sequential")
    const group = new ScopeGroup(parent)
    const closed: Array<string> = []
    const exits: Array<unknown> = []
    const children = ["a", "b", "c"].map((name) => {
      const child = group.fork()
      Effect.runSync(Scope.addFinalizerExit(child.scope, (exit) => Effect.sync(() => {
        closed.push(name)
        exits.push(exit)
      })))
      return child
    })
    expect(finalizerCount(parent)).toBe(1)
    expect(group.size).toBe(3)
    // "b" ends on its own: it leaves the group and is not closed again.
    await Effect.runPromise(Scope.close(children[1]!.scope, Exit.void))
    group.leave(children[1]!)
    expect(group.size).toBe(2)
    for (let i = 0; i < 50; i++) group.leave(group.fork())
    expect(finalizerCount(parent)).toBe(1)
    const exit = Exit.succeed("parent closed")
    await Effect.runPromise(Scope.close(parent, exit))
    expect(closed).toEqual(["b", "c", "a"])
    expect(exits.slice(1)).toEqual([exit, exit])
    expect(group.holdsFinalizer).toBe(false)
    // A child of a closed parent is born closed, with the parent's exit.
    const late = group.fork()
    expect(late.scope.state).toEqual({ _tag: "Closed", exit })
  })

  it("a parallel parent closes its group's children concurrently", async () => {
    const parent = Scope.makeUnsafe("parallel")
    const group = new ScopeGroup(parent)
    // Each child's finalizer waits for the other's to start: closed one after the other, they never finish.
    const started = [Promise.withResolvers<void>(), Promise.withResolvers<void>()]
    for (const [mine, other] of [[0, 1], [1, 0]] as const) {
      Effect.runSync(Scope.addFinalizer(group.fork().scope, Effect.promise(() => {
        started[mine]!.resolve()
        return started[other]!.promise
      })))
    }
    await Effect.runPromise(Scope.close(parent, Exit.void))
    expect(group.size).toBe(2) // closed by the parent; they leave the group through their owner (the supervisor)
  })
})
