/**
 * Every actor of a runtime is made by `createLeanActor` (src/runtime/ActorScheduler.ts),
 * including the HTTP client transport's connection chart (`httpClientConnection`), which
 * a transport cannot make itself (transports sit below the runtime): the client layer
 * hands it the factory. So the runtime's creation hook (what the simulation's leak check
 * uses) sees it, and it is a node of the client's tree. Real HTTP server and sockets.
 */
import { describe, expect, it } from "vitest"
import type { AnyActorRef } from "xstate"
import { connectHttp } from "../src/client/connectHttp.ts"
import { observeActorCreation } from "../src/runtime/ActorScheduler.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"


describe("the HTTP client transport's chart is a lean actor of the runtime", () => {
  it("the creation hook sees the httpClientConnection actor, a child of the client's session chart", async () => {
    const runtime = makeMcpRuntime()
    const http = await makeHttpServer(new McpServer({ name: "lean", version: "1.0.0" }), { runtime })
    const created: Array<AnyActorRef> = []
    const stop = observeActorCreation((actor) => void created.push(actor))
    try {
      const client = await connectHttp(http.url, { runtime })
      const connections = created.filter((a) => chartOf(a) === "httpClientConnection")
      expect(connections).toHaveLength(1)
      const session = parentOf(connections[0]!)
      expect(session).toBeDefined()
      expect(created).toContain(session) // its parent, a session chart of the same client, made the same way
      await client.close()
    } finally {
      stop()
      await runtime.shutdown({ drainMs: 0 })
    }
  })
})
