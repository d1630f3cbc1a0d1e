import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { DuplicateSessionId, makeRegistryUnsafe, Registry, type RegistryChange } from "../src/runtime/Registry.ts"
import { InfoListeners, type SessionInfo } from "../src/runtime/SessionHandle.ts"
import { makeFakeSession } from "./support/fakeSession.ts"
import { vi } from "vitest"

const fakeInfo: SessionInfo = { id: "S", role: "server", era: "legacy", protocolVersion: undefined, state: "operating", transport: "http", peer: undefined, inFlight: 0, startedAt: 0 }

describe("makeRegistryUnsafe", () => {
  it("registers, lists, gets and unregisters; emits added/updated/removed", () => {
    const registry = makeRegistryUnsafe()
    const changes: Array<string> = []
    const unsubscribe = registry.subscribe((c) => changes.push(`${c.type}:${c.info.id}:${c.info.state}`))
    const a = makeFakeSession("a")
    const b = makeFakeSession("b")
    const unregisterA = registry.register(a)
    registry.register(b)
    assert.strictEqual(registry.size, 2)
    assert.strictEqual(registry.get("a"), a)
    assert.deepStrictEqual(registry.list().map((i) => i.id).sort(), ["a", "b"])
    a.setState("operating.busy")
    unregisterA()
    unregisterA() // idempotent
    a.setState("closed") // no longer forwarded
    assert.strictEqual(registry.size, 1)
    assert.strictEqual(registry.get("a"), undefined)
    assert.strictEqual(a.listenerCount, 0)
    assert.deepStrictEqual(changes, [
      "added:a:operating",
      "added:b:operating",
      "updated:a:operating.busy",
      "removed:a:operating.busy"
    ])
    unsubscribe()
    assert.strictEqual(registry.listenerCount, 0)
  })

  it("`updates: false` listeners take added/removed only, and the registry follows its sessions only while a listener wants updates", () => {
    const registry = makeRegistryUnsafe()
    const changes: Array<string> = []
    const offQuiet = registry.subscribe((c) => changes.push(`quiet ${c.type}:${c.info.id}`), { updates: false })
    const a = makeFakeSession("a")
    registry.register(a)
    assert.strictEqual(a.listenerCount, 0) // not followed: its state changes build no summary
    a.setState("operating.busy")
    const offLoud = registry.subscribe((c) => changes.push(`loud ${c.type}:${c.info.id}`))
    assert.strictEqual(a.listenerCount, 1)
    const b = makeFakeSession("b")
    registry.register(b)
    assert.strictEqual(b.listenerCount, 1)
    a.setState("operating")
    offLoud()
    assert.strictEqual(a.listenerCount, 0)
    assert.strictEqual(b.listenerCount, 0)
    b.setState("closed")
    registry.remove(registry.entry("a")!)
    offQuiet()
    assert.deepStrictEqual(changes, ["quiet added:a", "quiet added:b", "loud added:b", "loud updated:a", "quiet removed:a"])
  })

  it("`updates: \"unversioned\"` listeners are told only of sessions without an infoVersion, which alone are followed for them; a listener of all updates follows every session", () => {
    const registry = makeRegistryUnsafe()
    const changes: Array<string> = []
    const versioned = Object.assign(makeFakeSession("v"), { infoVersion: 0 })
    const plain = makeFakeSession("p")
    registry.register(versioned)
    const offSome = registry.subscribe((c) => changes.push(`some ${c.type}:${c.id}`), { updates: "unversioned" })
    registry.register(plain)
    // The versioned session is not followed (a reader compares its version instead): nothing per change.
    assert.strictEqual(versioned.listenerCount, 0)
    assert.strictEqual(plain.listenerCount, 1)
    versioned.setState("operating.busy")
    plain.setState("operating.busy")
    const offAll = registry.subscribe((c) => changes.push(`all ${c.type}:${c.id}`))
    assert.strictEqual(versioned.listenerCount, 1)
    versioned.setState("operating")
    offAll()
    assert.strictEqual(versioned.listenerCount, 0)
    assert.strictEqual(plain.listenerCount, 1)
    offSome()
    assert.strictEqual(plain.listenerCount, 0)
    plain.setState("closed")
    assert.deepStrictEqual(changes, ["some added:p", "some updated:p", "all updated:v"])
  })

  it("rejects a duplicate id and keeps the first session", () => {
    const registry = makeRegistryUnsafe()
    const first = makeFakeSession("x")
    registry.register(first)
    assert.throws(() => registry.register(makeFakeSession("x")), DuplicateSessionId)
    assert.strictEqual(registry.get("x"), first)
  })

  it("the same session registered again stays listed once, by its first registration (a runtime's registry, which an inspector describes)", () => {
    const registry = makeRegistryUnsafe()
    const changes: Array<string> = []
    registry.subscribe((c) => void changes.push(c.type), { updates: false })
    const session = makeFakeSession("x")
    const unregister = registry.register(session)
    const again = registry.register(session)
    assert.strictEqual(registry.size, 1)
    again()
    assert.strictEqual(registry.get("x"), session)
    unregister()
    assert.strictEqual(registry.size, 0)
    assert.deepStrictEqual(changes, ["added", "removed"])
  })

  it("a stale unregister does not remove a newer session with the same id", () => {
    const registry = makeRegistryUnsafe()
    const old = makeFakeSession("x")
    const unregisterOld = registry.register(old)
    unregisterOld()
    const fresh = makeFakeSession("x")
    registry.register(fresh)
    unregisterOld()
    assert.strictEqual(registry.get("x"), fresh)
  })

  it("stops forwarding updates after unregister even if the handle's unsubscribe is broken", () => {
    const registry = makeRegistryUnsafe()
    const session = makeFakeSession("leaky")
    const leaky = { ...session, subscribe: (listener: Parameters<typeof session.subscribe>[0]) => {
      session.subscribe(listener)
      return () => {} // never unsubscribes
    } }
    const changes: Array<string> = []
    registry.subscribe((c) => changes.push(c.type))
    registry.register(leaky)()
    session.setState("closed")
    assert.deepStrictEqual(changes, ["added", "removed"])
  })

  it("added and removed build the session's summary only for a listener that reads it (the removed one: the session's last)", () => {
    const registry = makeRegistryUnsafe()
    const session = makeFakeSession("lazy")
    let built = 0
    const info = session.info
    session.info = () => (built++, info())
    const seen: Array<string> = []
    const off = registry.subscribe((c) => seen.push(`${c.type}:${c.id}`), { updates: false })
    const unregister = registry.register(session)
    session.setState("closing")
    unregister()
    assert.deepStrictEqual(seen, ["added:lazy", "removed:lazy"])
    // Was: one summary at each of add and remove, for a listener that never looked at them.
    assert.strictEqual(built, 0)
    off()
    const states: Array<string> = []
    registry.subscribe((c) => void (c.type === "removed" && states.push(c.info.state, c.info.state)), { updates: false })
    const again = registry.register(session)
    session.setState("closed")
    again()
    assert.deepStrictEqual(states, ["closed", "closed"])
    assert.strictEqual(built, 1) // read twice, built once
  })

  it("a throwing listener does not stop the others", () => {
    const errors: Array<unknown> = []
    const registry = makeRegistryUnsafe({ onListenerError: (e) => errors.push(e) })
    const seen: Array<RegistryChange["type"]> = []
    registry.subscribe(() => {
      throw new Error("boom")
    })
    registry.subscribe((c) => seen.push(c.type))
    registry.register(makeFakeSession("a"))
    assert.deepStrictEqual(seen, ["added"])
    assert.strictEqual(errors.length, 1)
  })
})

describe("Registry service", () => {
  it.effect("register is scoped: closing the scope unregisters", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const scope = yield* Scope.make()
      const session = makeFakeSession("s1")
      yield* registry.register(session).pipe(Scope.provide(scope))
      assert.strictEqual(yield* registry.size, 1)
      assert.strictEqual(Option.getOrUndefined(yield* registry.get("s1")), session)
      assert.deepStrictEqual((yield* registry.list).map((i) => i.id), ["s1"])
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* registry.size, 0)
      assert.isTrue(Option.isNone(yield* registry.get("s1")))
      assert.strictEqual(session.listenerCount, 0)
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("register fails with DuplicateSessionId", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      yield* registry.register(makeFakeSession("dup"))
      const error = yield* Effect.flip(registry.register(makeFakeSession("dup")))
      assert.strictEqual(error._tag, "DuplicateSessionId")
      assert.strictEqual(error.id, "dup")
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("changes streams added, updated and removed", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const collected = yield* registry.changes.pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      const scope = yield* Scope.make()
      const session = makeFakeSession("s2")
      yield* registry.register(session).pipe(Scope.provide(scope))
      session.setState("operating.busy")
      yield* Scope.close(scope, Exit.void)
      const changes = yield* Fiber.join(collected)
      assert.deepStrictEqual(Array.from(changes, (c) => `${c.type}:${c.info.state}`), [
        "added:operating",
        "updated:operating.busy",
        "removed:operating.busy"
      ])
      // The stream's subscription is released once it completes.
      assert.strictEqual(registry.unsafe.listenerCount, 0)
    }).pipe(Effect.provide(Registry.layer)))

  it.effect("subscribe lasts as long as its scope", () =>
    Effect.gen(function*() {
      const registry = yield* Registry
      const seen: Array<string> = []
      const scope = yield* Scope.make()
      yield* registry.subscribe((c) => seen.push(`${c.type}:${c.info.id}`)).pipe(Scope.provide(scope))
      registry.unsafe.register(makeFakeSession("a"))
      yield* Scope.close(scope, Exit.void)
      registry.unsafe.register(makeFakeSession("b"))
      assert.deepStrictEqual(seen, ["added:a"])
      assert.strictEqual(registry.unsafe.listenerCount, 0)
    }).pipe(Effect.provide(Registry.layer)))
})

describe("InfoListeners", () => {
  it("one onInfoChange listener (a watched registry's, per session) takes a slot, not a Set; more go to a Set, each told once per change and removed by its own off", () => {
    const made = vi.spyOn(globalThis, "Set")
    const listeners = new InfoListeners()
    const told: Array<string> = []
    const a = () => void told.push("a")
    const offA = listeners.addSignal(a)
    listeners.notify({ info: () => assert.fail("no summary for a signal") })
    const setsForOne = made.mock.calls.length
    made.mockRestore()
    // Was: a Set made for it (and iterated on every change).
    assert.strictEqual(setsForOne, 0)
    assert.deepStrictEqual(told, ["a"])
    assert.strictEqual(listeners.size, 1)
    // The same listener twice is told once, as in a Set.
    listeners.addSignal(a)
    assert.strictEqual(listeners.size, 1)
    const b = () => void told.push("b")
    const offB = listeners.addSignal(b)
    assert.strictEqual(listeners.size, 2)
    told.length = 0
    listeners.notify({ info: () => assert.fail("no summary for a signal") })
    assert.deepStrictEqual(told.sort(), ["a", "b"])
    offA()
    assert.strictEqual(listeners.size, 1)
    told.length = 0
    listeners.notify({ info: () => assert.fail("no summary for a signal") })
    assert.deepStrictEqual(told, ["b"])
    offB()
    offB()
    assert.strictEqual(listeners.size, 0)
    // A summary listener still takes the summary, built once per change.
    let built = 0
    const seen: Array<number> = []
    const offC = listeners.add((info) => void seen.push(info.inFlight))
    const c = () => void told.push("c")
    listeners.addSignal(c)
    told.length = 0
    listeners.notify({ info: () => ({ ...fakeInfo, inFlight: ++built }) })
    assert.deepStrictEqual([built, seen, told], [1, [1], ["c"]])
    offC()
    listeners.clear()
    assert.strictEqual(listeners.size, 0)
    listeners.notify({ info: () => assert.fail("nobody listens") })
    assert.deepStrictEqual(told, ["c"])
  })
})
