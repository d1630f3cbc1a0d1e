import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Registry } from "../src/runtime/Registry.ts"
import { Supervisor } from "../src/runtime/Supervisor.ts"
import { type FakeSession, makeFakeSession } from "./support/fakeSession.ts"

const SupervisorLive = Supervisor.layer.pipe(Layer.provideMerge(Registry.layer))

/** Let fibers woken by settled promises run (bounded; fails the test if `cond` never holds). */
const eventually = (cond: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      if (cond()) return
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
    assert.fail(`never happened: ${what}`)
  })

/** An acquire that creates a fake session and records its finalizer. */
const acquireFake = (id: string, log: Array<string>, sessions?: Map<string, FakeSession>) =>
  Effect.gen(function*() {
    const session = makeFakeSession(id)
    sessions?.set(id, session)
    yield* Effect.addFinalizer(() => Effect.sync(() => log.push(`released:${id}`)))
    return session
  })

describe("Supervisor", () => {
  it.effect("a spawned session is registered; when it ends it is unregistered and its scope released", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const log: Array<string> = []
      const handle = (yield* supervisor.spawn(acquireFake("s1", log))) as FakeSession
      assert.strictEqual(registry.unsafe.get("s1"), handle)
      assert.strictEqual(supervisor.get("s1"), handle)
      assert.deepStrictEqual(log, [])
      assert.deepStrictEqual(yield* supervisor.stats, { sessions: 1, watchers: 1, scopeEntries: 1 })

      handle.end({ expected: false, reason: "peer lost" })
      yield* eventually(() => log.length > 0, "scope released")
      assert.deepStrictEqual(log, ["released:s1"])
      assert.strictEqual(registry.unsafe.size, 0)
      assert.strictEqual(supervisor.get("s1"), undefined)
      assert.strictEqual(handle.listenerCount, 0)
      assert.deepStrictEqual(yield* supervisor.stats, { sessions: 0, watchers: 0, scopeEntries: 0 })
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("a failing acquire releases what it acquired and registers nothing", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const log: Array<string> = []
      const error = yield* Effect.flip(supervisor.spawn(Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("released")))
        return yield* Effect.fail("handshake failed" as const)
      })))
      assert.strictEqual(error, "handshake failed")
      assert.deepStrictEqual(log, ["released"])
      assert.strictEqual(registry.unsafe.size, 0)
      assert.deepStrictEqual(yield* supervisor.stats, { sessions: 0, watchers: 0, scopeEntries: 0 })
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("a duplicate id fails and releases the second session's scope", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const log: Array<string> = []
      yield* supervisor.spawn(acquireFake("same", log))
      const error = yield* Effect.flip(supervisor.spawn(acquireFake("same", log)))
      assert.strictEqual(error._tag, "DuplicateSessionId")
      assert.deepStrictEqual(log, ["released:same"])
      assert.strictEqual((yield* supervisor.stats).sessions, 1)
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("1 000 spawn/end cycles leave nothing behind", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const log: Array<string> = []
      let peakSessions = 0
      for (let i = 0; i < 1_000; i++) {
        const handle = (yield* supervisor.spawn(acquireFake(`s${i}`, log))) as FakeSession
        // Keep up to ~10 sessions alive at once, so ends overlap with spawns.
        peakSessions = Math.max(peakSessions, (yield* supervisor.stats).sessions)
        handle.end()
        if (i % 10 === 9) yield* eventually(() => registry.unsafe.size === 0, `batch ${i} ended`)
      }
      yield* eventually(() => log.length === 1_000, "all scopes released")
      assert.isAtLeast(peakSessions, 2)
      assert.strictEqual(registry.unsafe.size, 0)
      assert.strictEqual(registry.unsafe.listenerCount, 0)
      assert.strictEqual(new Set(log).size, 1_000)
      assert.deepStrictEqual(yield* supervisor.stats, { sessions: 0, watchers: 0, scopeEntries: 0 })
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("shutdown closes every live session with the drain deadline, then releases their scopes", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const log: Array<string> = []
      const sessions = new Map<string, FakeSession>()
      for (const id of ["a", "b", "c"]) yield* supervisor.spawn(acquireFake(id, log, sessions))
      yield* supervisor.shutdown({ drainMs: 1_234, reason: "test shutdown" })
      for (const session of sessions.values()) {
        assert.deepStrictEqual(session.closeCalls, [{ drainMs: 1_234, reason: "test shutdown" }])
      }
      assert.deepStrictEqual([...log].sort(), ["released:a", "released:b", "released:c"])
      assert.strictEqual(registry.unsafe.size, 0)
      assert.deepStrictEqual(yield* supervisor.stats, { sessions: 0, watchers: 0, scopeEntries: 0 })
      const error = yield* Effect.flip(supervisor.spawn(acquireFake("late", log)))
      assert.strictEqual(error._tag, "SupervisorShutDown")
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("shutdown does not wait forever for a session whose close hangs", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const log: Array<string> = []
      const stuck = makeFakeSession("stuck", { endOnClose: false })
      stuck.close = (opts) => {
        ;(stuck.closeCalls as Array<unknown>).push(opts)
        return new Promise<void>(() => {})
      }
      yield* supervisor.spawn(Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("released:stuck")))
        return stuck
      }))
      const fiber = yield* Effect.forkChild(supervisor.shutdown({ drainMs: 2_000 }))
      yield* TestClock.adjust("2999 millis") // drain 2 000 + grace 1 000
      assert.deepStrictEqual(log, [])
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(log, ["released:stuck"])
      assert.deepStrictEqual(stuck.closeCalls, [{ drainMs: 2_000, reason: "supervisor shutdown" }])
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("a session whose acquire finishes after shutdown began is closed, not leaked", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor
      const registry = yield* Registry
      const log: Array<string> = []
      const sessions = new Map<string, FakeSession>()
      const slow = Effect.andThen(Effect.sleep("1 second"), acquireFake("slow", log, sessions))
      const spawning = yield* Effect.forkChild(Effect.flip(supervisor.spawn(slow)))
      yield* Effect.yieldNow
      yield* supervisor.shutdown({ drainMs: 100 })
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(spawning)
      assert.strictEqual(error._tag, "SupervisorShutDown")
      assert.deepStrictEqual(sessions.get("slow")?.closeCalls, [{ drainMs: 100, reason: "supervisor shutdown" }])
      assert.deepStrictEqual(log, ["released:slow"])
      assert.strictEqual(registry.unsafe.size, 0)
      assert.deepStrictEqual(yield* supervisor.stats, { sessions: 0, watchers: 0, scopeEntries: 0 })
    }).pipe(Effect.provide(SupervisorLive)))

  it.effect("the layer finalizer shuts down live sessions with the configured drain", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Supervisor.layerWith({ drainMs: 777 }).pipe(Layer.provideMerge(Registry.layer)),
        scope
      )
      const supervisor = Context.get(context, Supervisor)
      const log: Array<string> = []
      const sessions = new Map<string, FakeSession>()
      yield* supervisor.spawn(acquireFake("x", log, sessions))
      yield* supervisor.spawn(acquireFake("y", log, sessions))
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(sessions.get("x")?.closeCalls, [{ drainMs: 777, reason: "supervisor shutdown" }])
      assert.deepStrictEqual(sessions.get("y")?.closeCalls, [{ drainMs: 777, reason: "supervisor shutdown" }])
      assert.deepStrictEqual([...log].sort(), ["released:x", "released:y"])
    }))
})
