/**
 * The client's results are typed after the spec and checked before the caller
 * sees them (src/protocol/results.ts).
 *
 * Against real peers (the official SDK's stdio server, server-everything) the
 * typed access below compiles without casts (`npx tsc -p tsconfig.json` checks
 * this file) and reads the right values. Against a hand-rolled server that
 * answers with wrong shapes (fixtures/wrong-shapes-server.mjs), each such call
 * fails with RpcError 'invalid response from the server' naming the method and
 * the path, while fields beyond the spec and content kinds it does not know pass
 * through, and the session goes on serving the next call.
 */
import { fileURLToPath } from "node:url"
import type { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { Client } from "../src/client/Client.ts"
import { connectStdio } from "../src/client/connectStdio.ts"
import type { CallToolResult, ContentBlock, ListToolsResult, Tool } from "../src/index.ts"
import { callTool, type McpClient } from "../src/effect.ts"
import type { CallError } from "../src/client/effect.ts"
import { RpcError } from "../src/protocol/requestErrors.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { testRuntime } from "./support/testRuntime.ts"
import { ClientSession } from "../src/client/ClientSession.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { serveTransport } from "../src/server/serveTransport.ts"
import { makeMemoryTransportPair } from "../src/transports/memory.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const EVERYTHING = fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url))

const { use } = testRuntime()
const open = async (args: Array<string>): Promise<Client> => {
  const client = await connectStdio({ command: process.execPath, args, stderr: "ignore", runtime: use(makeMcpRuntime()) })
  return client
}

/** The text of a block, reached by narrowing on `type` (no cast). */
const textOf = (block: ContentBlock | undefined): string | undefined => (block?.type === "text" ? block.text : undefined)

/** The error a call failed with (the test fails if it succeeded). */
const failure = async (p: Promise<unknown>): Promise<RpcError> => {
  const e = await p.then(() => undefined, (e: unknown) => e)
  expect(e).toBeInstanceOf(RpcError)
  return e as RpcError
}

// The Effect API's calls carry the same result types (checked by tsc, not run).
export const typedEffectCall: Effect.Effect<CallToolResult, CallError, McpClient> = callTool("echo", { text: "hi" })

describe("typed results from real peers", () => {
  it("the official SDK server: callTool's content[0] and listTools' tools, typed", async () => {
    const client = await open([fixture("sdk-legacy-server.mjs")])
    try {
      const listed: ListToolsResult = await client.listTools()
      const echo: Tool | undefined = listed.tools.find((t) => t.name === "echo")
      expect(echo?.inputSchema.type).toBe("object")
      expect(echo?.inputSchema.required).toEqual(["text"])
      const result: CallToolResult = await client.callTool("echo", { text: "hi" })
      expect(result.content[0]).toEqual({ type: "text", text: "hi" })
      expect(textOf(result.content[0])).toBe("hi")
      expect(result.isError).toBeUndefined()
    } finally {
      await client.close()
    }
  }, 30_000)

  it("server-everything: tools, a tool's text, resource links, prompts and resources, typed", async () => {
    const client = await open([EVERYTHING, "stdio"])
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name)).toContain("echo")
      expect(tools.find((t) => t.name === "echo")?.annotations?.readOnlyHint).toBe(true)
      const echoed = await client.callTool("echo", { message: "typed" })
      expect(textOf(echoed.content[0])).toBe("Echo: typed")
      const links = await client.callTool("get-resource-links", { count: 2 })
      const uris = links.content.flatMap((b) => (b.type === "resource_link" ? [b.uri] : []))
      expect(uris).toHaveLength(2)
      const { prompts } = await client.listPrompts()
      expect(prompts.find((p) => p.name === "args-prompt")?.arguments?.map((a) => a.name)).toContain("city")
      const prompt = await client.getPrompt("args-prompt", { city: "Paris" })
      expect(prompt.messages[0]?.role).toBe("user")
      expect(textOf(prompt.messages[0]?.content)).toContain("Paris")
      const { resources } = await client.listResources()
      const first = resources[0]
      expect(typeof first?.uri).toBe("string")
      const read = await client.readResource(first!.uri)
      expect(read.contents[0]?.uri).toBe(first!.uri)
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe("one CallToolResult for both sides", () => {
  it("the package's CallToolResult is what a tool handler returns (readonly content too) and what callTool gives back", async () => {
    // Typed with the entry point's names: the server's own result type was shadowed by the client's once (tsc checks this file).
    const blocks: ReadonlyArray<ContentBlock> = [{ type: "text", text: "from a typed handler" }]
    const reply = (): CallToolResult => ({ content: blocks })
    const server = new McpServer({ name: "typed", version: "1" }).tool({ name: "typed", inputSchema: { type: "object" } }, async () => reply())
    const [clientSide, serverSide] = makeMemoryTransportPair()
    serveTransport(server, serverSide)
    const session = await ClientSession.connect(clientSide)
    try {
      const result: CallToolResult = await session.callTool("typed")
      const first = result.content[0]
      expect(first?.type === "text" ? first.text : undefined).toBe("from a typed handler")
    } finally {
      await session.close()
    }
  })
})

describe("results of the wrong shape fail their call, not the session", () => {
  it("each wrong shape: RpcError naming the method and the path; the next call is served", async () => {
    const client = await open([fixture("wrong-shapes-server.mjs")])
    try {
      const cases: Array<readonly [() => Promise<unknown>, string]> = [
        [() => client.listTools({ cursor: "not-array" }), "tools/list result.tools: expected an array"],
        [() => client.listTools({ cursor: "nameless" }), "tools/list result.tools[1].name: missing, expected a string"],
        [() => client.callTool("content-string"), "tools/call result.content: expected an array"],
        [() => client.callTool("text-number"), "tools/call result.content[1].text: expected a string"],
        [() => client.callTool("is-error-string"), "tools/call result.isError: expected a boolean"],
        [() => client.getPrompt("any"), "prompts/get result.messages: expected an array"],
        [() => client.readResource("mem://a"), "resources/read result.contents[0]: expected a string text or blob"],
        [() => client.complete({ type: "ref/prompt", name: "p" }, { name: "a", value: "" }), "completion/complete result.completion.values[1]: expected a string"],
      ]
      for (const [call, detail] of cases) {
        const e = await failure(call())
        expect(e.message).toBe(`invalid response from the server: ${detail}`)
        expect(e.method).toBe(detail.split(" ")[0])
        expect(e.code).toBe(-32600)
        // The session is unharmed: the next call on it is served.
        expect(textOf((await client.callTool("fine")).content[0])).toBe("fine")
      }
      expect(client.state).toMatch(/^operating/)
    } finally {
      await client.close()
    }
  }, 30_000)

  it("lenient where the spec is: extra fields kept, unknown content kinds passed through, missing content read as empty", async () => {
    const client = await open([fixture("wrong-shapes-server.mjs")])
    try {
      const listed = await client.listTools()
      expect(listed).toEqual({
        tools: [{ name: "ok", inputSchema: { type: "object" } }, { name: "extra", inputSchema: { type: "object" }, vendorHint: "kept" }],
        nextCursor: "more",
        vendorField: 1
      })
      const unknown = await client.callTool("unknown-kind")
      expect(unknown.content).toEqual([{ type: "hologram", frames: 3 }, { type: "toString" }, { type: "text", text: "ok" }])
      expect(unknown["vendorField"]).toBe("kept")
      const empty = await client.callTool("no-content")
      expect(empty.content).toEqual([])
      expect(empty.structuredContent).toEqual({ sum: 3 })
      // `request` is the untyped, unchecked escape hatch (the host forwards through it).
      expect(await client.request("tools/list", { cursor: "not-array" })).toEqual({ tools: "echo" })
    } finally {
      await client.close()
    }
  }, 30_000)
})
