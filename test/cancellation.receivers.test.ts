import { describe, expect, it } from "vitest"
import { ClientSession } from "../src/client/ClientSession.ts"
import type { JsonRpcMessage } from "../src/protocol/jsonrpc.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { ServerSession } from "../src/server/ServerSession.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

// In-memory transport (microtask delivery): an event-loop turn is enough, no real time.
const tick = () => new Promise((r) => setImmediate(r))

describe("cancellation receivers (cancellation.mdx:L35, L37)", () => {
  it("the server ignores a notifications/cancelled naming the initialize request: it is still answered and the handshake completes", async () => {
    const sent: Array<JsonRpcMessage> = []
    const session = new ServerSession(new McpServer({ name: "s", version: "1" }), { transport: "memory", send: (m) => void sent.push(m) })
    // The cancellation races the initialize (sent right behind it): it must not suppress or abort it.
    session.receive({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
    session.receive({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "init", reason: "changed my mind" } })
    expect(sent.filter((m) => "id" in m && m.id === "init")).toHaveLength(1)
    expect(sent[0]).toMatchObject({ id: "init", result: { protocolVersion: "2025-11-25" } })
    session.receive({ jsonrpc: "2.0", method: "notifications/initialized" })
    expect(session.stateName()).toBe("operating")
  })

  it("the client aborts its handler of a server→client request the server cancels, and sends no response", async () => {
    const [serverSide, clientSide] = makeMemoryTransportPair()
    const fromClient: Array<JsonRpcMessage> = []
    let aborted: unknown
    serverSide.start({
      onFrame: (text) => {
        const m = JSON.parse(text) as JsonRpcMessage
        fromClient.push(m)
        if ("method" in m && m.method === "initialize" && "id" in m) {
          serverSide.send({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "fake", version: "1" } } })
        }
      },
      onOversized: () => {},
      onClose: () => {}
    })
    const client = await ClientSession.connect(clientSide, {
      onElicitation: (_params, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = ctx.signal.reason
            resolve({ action: "accept", content: { late: true } }) // a late answer must not be sent
          })
        })
    })
    serverSide.send({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: { message: "name?", requestedSchema: { type: "object", properties: {} } } })
    await tick()
    serverSide.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "e1", reason: "no longer needed" } })
    await tick()
    await tick()
    expect(aborted).toBeInstanceOf(Error)
    expect(String((aborted as Error).message)).toMatch(/no longer needed/)
    expect(fromClient.some((m) => "id" in m && m.id === "e1")).toBe(false)
    await client.close()
  })
})
