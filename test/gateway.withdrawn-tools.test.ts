/**
 * A gateway client calling a tool whose server is restarting (its entries withdrawn from the
 * catalog) learns that, fast and typed, not -32602 "unknown tool": the host still knows the tool
 * and refuses with `ServerUnavailable`, carried in the tool error's `_meta`. Names the host never
 * knew stay -32602. Real peers: server-everything over stdio, the official SDK client over HTTP.
 */
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Gateway, type GatewayHttpHandle, HOST_ERROR_META, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { processGroupAlive, serverPidUnder } from "./support/processes.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))

describe("gateway: tools of a restarting server", { timeout: 60_000, shuffle: false }, () => { // the second test uses the clients the first connected
  let host: McpHost
  let gateway: Gateway
  let http: GatewayHttpHandle
  const clients: Array<Client> = []
  let pgid: number

  const connect = async (url: string) => {
    const client = new Client({ name: "sdk-client", version: "1.0.0" })
    await client.connect(new StreamableHTTPClientTransport(new URL(url)))
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    host = await startHost({
      // A long backoff: the server stays in `restarting` for the whole test.
      mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, "stdio"], restart: { backoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 } } } }
    }, { stateFile: false, onStderr: () => {}, coalesceMs: 10 })
    pgid = host.connection("everything")!.pid!
    gateway = makeGateway(host)
    http = await serveGatewayHttp(gateway, { port: 0 })
  })

  afterAll(async () => {
    for (const c of clients) await c.close()
    await http?.close()
    gateway?.close()
    await host?.close()
    expect(processGroupAlive(pgid)).toBe(false)
  })

  it("the aggregate and /mcp/everything answer a withdrawn tool with the host's typed refusal, at once", async () => {
    const all = await connect(http.url)
    const one = await connect(`${http.url}/everything`)
    expect((await all.listTools()).tools.map((t) => t.name)).toContain("everything__echo")
    expect((await one.listTools()).tools.map((t) => t.name)).toContain("echo")
    expect(await all.callTool({ name: "everything__echo", arguments: { message: "hi" } })).toMatchObject({ content: [{ type: "text", text: "Echo: hi" }] })

    process.kill(serverPidUnder(pgid)!, "SIGKILL")
    expect(await hostReaches(host, () => host.status()[0]!.state === "restarting" && host.tools().length === 0, 20_000)).toBe(true)
    // Withdrawn from what is listed...
    expect((await all.listTools()).tools.map((t) => t.name)).not.toContain("everything__echo")
    expect((await one.listTools()).tools).toEqual([])
    // ...but a call names the reason, as a tool error the model can read, with the typed form in _meta.
    for (const [client, name] of [[all, "everything__echo"], [one, "echo"]] as const) {
      const t0 = Date.now()
      const result = await client.callTool({ name, arguments: { message: "while down" } })
      expect(Date.now() - t0).toBeLessThan(5_000) // never waits for the restart (60 s away)
      expect(result.isError).toBe(true)
      expect((result._meta as Record<string, { _tag: string; server: string }>)[HOST_ERROR_META]).toMatchObject({ _tag: "ServerUnavailable", server: "everything" })
      expect(JSON.stringify(result.content)).toContain("everything")
    }
  })

  it("a name the host never knew is still -32602 unknown tool (aggregate and /mcp/everything)", async () => {
    const [all, one] = clients as [Client, Client]
    await expect(all.callTool({ name: "everything__nope", arguments: {} })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining("unknown tool") })
    await expect(one.callTool({ name: "nope", arguments: {} })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining("unknown tool") })
    await expect(all.callTool({ name: "constructor", arguments: {} })).rejects.toMatchObject({ code: -32602 })
    await expect(one.callTool({ name: "__proto__", arguments: {} })).rejects.toMatchObject({ code: -32602 })
  })
})
