import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Schema, Scope } from "effect"
import { callTool, McpClient } from "../src/client/effect.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { RpcError } from "../src/protocol/requestErrors.ts"
import { Registry } from "../src/runtime/Registry.ts"
import { McpServerService, registerSchemaTool, registerTool, RuntimeLayer, serveSupervised } from "../src/server/effect.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"
import { waitForTurns } from "./support/waitFor.ts"

// The Effect API end to end over the in-memory transport: Schema-typed tools,
// sessions supervised and registered, interruption of a call = cancellation.
const ServerLayer = Layer.mergeAll(McpServerService.layer({ name: "effect-api", version: "1.0.0" }), RuntimeLayer)

describe("Effect API", () => {
  it.live("Schema tools decode arguments; the session is registered, then released with the scope", () =>
    Effect.gen(function*() {
      yield* registerSchemaTool(
        { name: "add", description: "a + b", parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }) },
        ({ a, b }) => Effect.succeed({ content: [{ type: "text" as const, text: String(a + b) }] })
      )
      const registry = yield* Registry
      const scope = yield* Scope.make()
      const [serverSide, clientSide] = makeMemoryTransportPair()
      const served = yield* serveSupervised(serverSide)
      const session = yield* Effect.acquireRelease(
        Effect.promise(() => ClientSession.connect(clientSide)),
        (s) => Effect.promise(() => s.close())
      ).pipe(Scope.provide(scope))
      assert.strictEqual(yield* registry.size, 1)
      assert.strictEqual((yield* registry.list)[0]!.id, served.id)
      const client = McpClient.fromSession(session)

      const tools = yield* Effect.promise(() => session.listTools())
      const add = (tools.tools as ReadonlyArray<{ name: string; inputSchema: Record<string, unknown> }>).find((t) => t.name === "add")!
      assert.deepStrictEqual(add.inputSchema.required, ["a", "b"])

      const ok = yield* callTool("add", { a: 2, b: 3 }).pipe(Effect.provide(client))
      assert.deepStrictEqual(ok.content, [{ type: "text", text: "5" }])
      const bad = yield* callTool("add", { a: "two", b: 3 }).pipe(Effect.provide(client))
      assert.strictEqual(bad.isError, true)
      assert.match((bad.content as ReadonlyArray<{ text: string }>)[0]!.text, /Invalid arguments for tool add/)
      const unknown = yield* callTool("nope").pipe(Effect.provide(client), Effect.flip)
      assert.instanceOf(unknown, RpcError)
      assert.strictEqual((unknown as RpcError).code, -32602)

      yield* Scope.close(scope, Exit.void)
      yield* Effect.promise(() => served.ended)
      // The supervisor releases the session's scope once it ended.
      yield* Effect.promise(() => waitForTurns(() => Effect.runSync(registry.size) === 0, "the session's scope released"))
      assert.strictEqual(yield* registry.size, 0)
    }).pipe(Effect.scoped, Effect.provide(ServerLayer)))

  it.live("interrupting a call cancels it on the server (the handler's fiber is interrupted)", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      yield* registerTool({ name: "hang", inputSchema: { type: "object" } }, () =>
        Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        ))
      const [serverSide, clientSide] = makeMemoryTransportPair()
      yield* serveSupervised(serverSide)
      const session = yield* Effect.acquireRelease(
        Effect.promise(() => ClientSession.connect(clientSide)),
        (s) => Effect.promise(() => s.close())
      )
      const fiber = yield* callTool("hang").pipe(Effect.provide(McpClient.fromSession(session)), Effect.forkChild)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(interrupted).pipe(Effect.timeout("2 seconds"))
      assert.strictEqual(session.info().inFlight, 0)
      // The session is still usable.
      const tools = yield* Effect.promise(() => session.listTools())
      assert.strictEqual((tools.tools as ReadonlyArray<unknown>).length, 1)
    }).pipe(Effect.scoped, Effect.provide(ServerLayer)))
})
