/**
 * A gateway client calling a tool, getting a prompt or reading a resource whose server is restarting
 * (its entries withdrawn from the catalog) learns that, fast and typed, not -32602 "unknown tool" /
 * "unknown prompt" or "resource not found": the host still knows the name and refuses with
 * `ServerUnavailable`, carried in the tool error's `_meta`, or for prompts/get and resources/read
 * (no tool error there) in a -32603 error's `data`, both under `HOST_ERROR_META`. Names the host
 * never knew keep those answers. Real peers: server-everything over stdio (killed with SIGKILL), the
 * official SDK client over HTTP, on the aggregate (`/mcp`) and on `/mcp/everything`.
 */
import { fileURLToPath } from "node:url"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import { McpError as OurMcpError } from "../src/protocol/errors.ts"
import type { CallGuard } from "../src/server/CallGuard.ts"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Gateway, type GatewayHttpHandle, HOST_ERROR_META, makeGateway, serveGatewayHttp } from "../src/host/gateway.ts"
import { type McpHost, startHost } from "../src/host/McpHost.ts"
import { hostReaches } from "./support/hostEvents.ts"
import { processGroupAlive, serverPidUnder } from "./support/processes.ts"

const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))

describe("gateway: entries of a restarting server", { timeout: 60_000, shuffle: false }, () => { // the second test uses the clients the first connected
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

  /** The refusal of a prompts/get or resources/read: -32603 naming the server and its state, the typed form in `data`. */
  const expectRestarting = async (request: Promise<unknown>) => {
    const t0 = Date.now()
    const error = await request.then(() => undefined, (e: unknown) => e)
    expect(Date.now() - t0).toBeLessThan(5_000) // never waits for the restart (60 s away)
    expect(error).toBeInstanceOf(McpError)
    const { code, message, data } = error as McpError
    expect(code).toBe(-32603)
    expect(message).toContain("everything is restarting")
    expect((data as Record<string, unknown>)[HOST_ERROR_META]).toMatchObject({ _tag: "ServerUnavailable", server: "everything", state: "restarting" })
  }

  // Seen before the kill: a static resource and a URI under a template.
  let staticUri: string
  const templateUri = "demo://resource/dynamic/text/1"

  it("the aggregate and /mcp/everything answer a withdrawn tool, prompt or resource with the host's typed refusal, at once", async () => {
    const all = await connect(http.url)
    const one = await connect(`${http.url}/everything`)
    expect((await all.listTools()).tools.map((t) => t.name)).toContain("everything__echo")
    expect((await one.listTools()).tools.map((t) => t.name)).toContain("echo")
    expect((await all.listPrompts()).prompts.map((p) => p.name)).toContain("everything__simple-prompt")
    expect((await one.listPrompts()).prompts.map((p) => p.name)).toContain("simple-prompt")
    staticUri = (await all.listResources()).resources[0]!.uri
    expect((await one.listResources()).resources.map((r) => r.uri)).toContain(staticUri)
    expect((await all.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toContain("demo://resource/dynamic/text/{resourceId}")
    expect(await all.callTool({ name: "everything__echo", arguments: { message: "hi" } })).toMatchObject({ content: [{ type: "text", text: "Echo: hi" }] })
    expect((await all.getPrompt({ name: "everything__simple-prompt" })).messages.length).toBeGreaterThan(0)
    expect((await one.readResource({ uri: templateUri })).contents[0]).toMatchObject({ uri: templateUri })

    process.kill(serverPidUnder(pgid)!, "SIGKILL")
    expect(await hostReaches(host, () => host.status()[0]!.state === "restarting" && host.tools().length === 0, 20_000)).toBe(true)
    // Withdrawn from what is listed...
    expect((await all.listTools()).tools.map((t) => t.name)).not.toContain("everything__echo")
    expect((await one.listTools()).tools).toEqual([])
    expect((await all.listPrompts()).prompts).toEqual([])
    expect((await one.listPrompts()).prompts).toEqual([])
    expect((await all.listResources()).resources).toEqual([])
    expect((await one.listResourceTemplates()).resourceTemplates).toEqual([])
    // ...but a call names the reason, as a tool error the model can read, with the typed form in _meta.
    for (const [client, name] of [[all, "everything__echo"], [one, "echo"]] as const) {
      const t0 = Date.now()
      const result = await client.callTool({ name, arguments: { message: "while down" } })
      expect(Date.now() - t0).toBeLessThan(5_000) // never waits for the restart (60 s away)
      expect(result.isError).toBe(true)
      expect((result._meta as Record<string, { _tag: string; server: string }>)[HOST_ERROR_META]).toMatchObject({ _tag: "ServerUnavailable", server: "everything" })
      expect(JSON.stringify(result.content)).toContain("everything")
    }
    // Prompts and resources (a listed URI, and one under a template) likewise, as JSON-RPC errors.
    await expectRestarting(all.getPrompt({ name: "everything__simple-prompt" }))
    await expectRestarting(one.getPrompt({ name: "simple-prompt" }))
    for (const client of [all, one]) {
      await expectRestarting(client.readResource({ uri: staticUri }))
      await expectRestarting(client.readResource({ uri: templateUri }))
    }
  })

  it("the guard sees a withdrawn entry's call before the refusal: denied is the policy's answer, admitted is the host's", async () => {
    // A second gateway on the same host (still restarting), whose guard denies one name of each kind.
    const decided: Array<string> = []
    const guard: CallGuard = {
      admit: (call) => {
        decided.push(`${call.kind} ${call.name}`)
        if (call.name === "everything__simple-prompt" || call.name === "simple-prompt" || call.name === staticUri) throw new OurMcpError(-32003, "denied by policy")
        return undefined
      },
      filter: (_kind, items) => items
    }
    const guarded = makeGateway(host, { guard: () => guard })
    const guardedHttp = await serveGatewayHttp(guarded, { port: 0 })
    try {
      const all = await connect(guardedHttp.url)
      const one = await connect(`${guardedHttp.url}/everything`)
      await expect(all.getPrompt({ name: "everything__simple-prompt" })).rejects.toMatchObject({ code: -32003, message: expect.stringContaining("denied by policy") })
      await expect(one.getPrompt({ name: "simple-prompt" })).rejects.toMatchObject({ code: -32003 })
      await expect(all.readResource({ uri: staticUri })).rejects.toMatchObject({ code: -32003 })
      await expectRestarting(one.readResource({ uri: templateUri }))
      expect(decided).toEqual(["prompt everything__simple-prompt", "prompt simple-prompt", `resource ${staticUri}`, `resource ${templateUri}`])
    } finally {
      await Promise.all(clients.splice(2).map((c) => c.close()))
      await guardedHttp.close()
      guarded.close()
    }
  })

  it("a name the host never knew keeps today's answer: -32602 unknown tool/prompt, -32002 resource not found (aggregate and /mcp/everything)", async () => {
    const [all, one] = clients as [Client, Client]
    await expect(all.callTool({ name: "everything__nope", arguments: {} })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining("unknown tool") })
    await expect(one.callTool({ name: "nope", arguments: {} })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining("unknown tool") })
    await expect(all.callTool({ name: "constructor", arguments: {} })).rejects.toMatchObject({ code: -32602 })
    await expect(one.callTool({ name: "__proto__", arguments: {} })).rejects.toMatchObject({ code: -32602 })
    for (const [client, name] of [[all, "everything__nope"], [one, "nope"], [all, "constructor"], [one, "__proto__"], [all, "simple-prompt"]] as const) {
      await expect(client.getPrompt({ name })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining(`unknown prompt "${name}"`) })
    }
    for (const client of [all, one]) {
      for (const uri of ["demo://resource/nope", "demo://resource/dynamic/text/", "constructor", "__proto__"]) {
        await expect(client.readResource({ uri })).rejects.toMatchObject({ code: -32002, data: { uri } })
      }
    }
  })
})
