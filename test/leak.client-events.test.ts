/**
 * A long-lived HTTP client leaves nothing per call in its charts (issue 8):
 * machines/httpClientConnection.ts spawns one exchange child per message, with
 * ever-new ids (`request:<id>`, `oneWay:<n>`). xstate memoizes each state
 * node's transition candidates per event type for as long as the chart lives,
 * so a connection that processed every exchange's `xstate.done.actor.<id>`
 * grew that cache by one entry per call, forever (a host's upstream HTTP
 * clients live for months). The exchanges now report `EXCHANGE_ENDED` (one
 * type), and the runtime drops done events no transition of the parent names
 * (src/runtime/ActorScheduler.ts, `chartHandlesDone`).
 *
 * Checked as the set of event types each chart of the client's tree processed
 * (one `@xstate.snapshot` inspection event per processed event): the same
 * after 10 rounds of calls as after 2, over a real socket to our HTTP server.
 */
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { ClientSession } from "../src/client/ClientSession.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { makeHttpClientTransport } from "../src/transports/http/client/HttpClientTransport.ts"
import { chartOf } from "./support/actorTree.ts"


const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe("a long-lived HTTP client's charts", () => {
  it("process the same set of event types after 10 rounds of calls as after 2 (no per-call done event types)", async () => {
    const byChart = new Map<string, Set<string>>()
    cleanups.push(inspection.subscribe((e: InspectionEvent) => {
      if (e.type !== "@xstate.snapshot") return
      const chart = chartOf(e.actorRef as AnyActorRef)
      let types = byChart.get(chart)
      if (types === undefined) byChart.set(chart, types = new Set())
      types.add(e.event.type)
    }))
    const typesOf = (chart: string) => [...(byChart.get(chart) ?? [])].sort()
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const server = new McpServer({ name: "leak", version: "1.0.0" }).tool(
      { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
      (args) => ({ content: [{ type: "text", text: String(args.text) }] })
    )
    const http = await makeHttpServer(server, { runtime })
    cleanups.push(() => http.close({ drainMs: 0 }))
    const client = await connectHttp(http.url)
    cleanups.push(() => client.close())
    const round = async () => {
      // Requests (`request:<id>` exchanges), some concurrent, and a one-way message (`oneWay:<n>`).
      await Promise.all([1, 2, 3].map((n) => client.callTool("echo", { text: `call ${n}` })))
      await client.request("tools/list")
      await client.request("ping")
      client.notify("notifications/roots/list_changed")
    }
    for (let i = 0; i < 2; i++) await round()
    const connectionAfter2 = typesOf("httpClientConnection")
    const allAfter2 = [...byChart.keys()].sort().map((chart) => [chart, typesOf(chart)])
    // The client's connection chart is seen (it spawned an exchange per message).
    expect(connectionAfter2).toContain("REQUEST")
    for (let i = 0; i < 8; i++) await round()
    const connectionAfter10 = typesOf("httpClientConnection")
    expect(connectionAfter10.filter((t) => t.startsWith("xstate.done.actor."))).toEqual([])
    expect(connectionAfter10).toEqual(connectionAfter2)
    expect([...byChart.keys()].sort().map((chart) => [chart, typesOf(chart)])).toEqual(allAfter2)
  })

  it("a transport made on its own (a root chart, outside any runtime tree) processes no exchange's done event either", async () => {
    const server = new McpServer({ name: "leak", version: "1.0.0" }).tool(
      { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
      (args) => ({ content: [{ type: "text", text: String(args.text) }] })
    )
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const http = await makeHttpServer(server, { runtime })
    cleanups.push(() => http.close({ drainMs: 0 }))
    const transport = makeHttpClientTransport({ url: http.url })
    const processed = new Set<string>()
    // Not under the runtime's inspection hub: watch the connection's own actor system.
    transport.connection.system.inspect((e: InspectionEvent) => {
      if (e.type === "@xstate.snapshot" && e.actorRef === transport.connection) processed.add(e.event.type)
    })
    const session = await ClientSession.connect(transport)
    cleanups.push(() => session.close())
    const round = async () => {
      await Promise.all([1, 2, 3].map((n) => session.request("tools/call", { name: "echo", arguments: { text: `call ${n}` } })))
      session.notify("notifications/roots/list_changed")
    }
    for (let i = 0; i < 2; i++) await round()
    const after2 = [...processed].sort()
    expect(after2).toContain("REQUEST")
    for (let i = 0; i < 8; i++) await round()
    expect([...processed].filter((t) => t.startsWith("xstate.done.actor."))).toEqual([])
    expect([...processed].sort()).toEqual(after2)
  })
})
