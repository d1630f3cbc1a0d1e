/**
 * `Mcp-Param-{Name}` headers on the server (2026-07-28,
 * basic/transports/streamable-http.mdx:L356-L607): a `tools/call` whose tool
 * annotates arguments with `x-mcp-header` must carry each present argument as
 * a header that matches the body (Base64 sentinel decoded, integers compared as
 * numbers); a missing, mismatched or malformed one is refused with 400 and
 * -32020 before the tool runs. Also: our modern client's headers pass our own
 * server's checks end to end, and a tool with invalid annotations cannot be
 * registered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ModernClient } from "../src/client/ModernClient.ts"
import { ModernHttpWire } from "../src/transports/http/client/ModernHttpWire.ts"
import { checkParamHeaders, decodeHeaderValue, encodeHeaderValue } from "../src/protocol/mcpHeaders.ts"
import { McpServer } from "../src/server/McpServer.ts"
import { type HttpServerHandle, makeHttpServer } from "../src/server/http/HttpServer.ts"
import { post } from "./support/mcpHttp.ts"

const MODERN = "2026-07-28"
const meta = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "param-test", version: "1.0.0" }
}

const SQL_SCHEMA = {
  type: "object",
  properties: {
    region: { type: "string", "x-mcp-header": "Region" },
    query: { type: "string" },
    opts: {
      type: "object",
      properties: { dryRun: { type: ["boolean", "null"], "x-mcp-header": "Dry-Run" }, limit: { type: "integer", "x-mcp-header": "Limit" } }
    }
  },
  required: ["region", "query"]
}

describe("Mcp-Param-* headers: server validation", () => {
  let handle: HttpServerHandle
  const ran: Array<unknown> = []

  beforeAll(async () => {
    const server = new McpServer({ name: "param-headers", version: "1.0.0" }).tool(
      { name: "execute_sql", inputSchema: SQL_SCHEMA },
      (args) => {
        ran.push(args)
        return { content: [{ type: "text", text: `ran in ${String(args.region)}` }] }
      }
    )
    handle = await makeHttpServer(server)
  })
  afterAll(() => handle.close({ drainMs: 0 }))

  const call = (id: number, args: Record<string, unknown>, params: Record<string, string>) =>
    post(handle.url, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "execute_sql", arguments: args, _meta: meta } }, {
      "mcp-protocol-version": MODERN,
      "mcp-method": "tools/call",
      "mcp-name": "execute_sql",
      ...params
    })

  it("accepts headers that match the body: plain, Base64 sentinel, integers compared as numbers, null and absent values omitted", async () => {
    const before = ran.length // the server is shared: the modern client's test runs the tool too
    const accepted: Array<[Record<string, unknown>, Record<string, string>]> = [
      [{ region: "us-west1", query: "q", opts: { dryRun: false, limit: 42 } }, { "mcp-param-region": "us-west1", "mcp-param-dry-run": "false", "mcp-param-limit": "42" }],
      [{ region: "Grüße", query: "q" }, { "mcp-param-region": encodeHeaderValue("Grüße") }],
      [{ region: "r", query: "q", opts: { limit: 42 } }, { "mcp-param-region": "r", "mcp-param-limit": "42.0" }],
      [{ region: "r", query: "q", opts: { dryRun: null } }, { "mcp-param-region": "r" }],
      // Header names are case-insensitive.
      [{ region: "eu", query: "q" }, { "MCP-PARAM-REGION": "eu" }]
    ]
    for (const [i, [args, headers]] of accepted.entries()) {
      const res = await call(i + 1, args, headers)
      expect(res.status, JSON.stringify(headers)).toBe(200)
      const body = (await res.json()) as { result: { content: Array<{ text: string }> } }
      expect(body.result.content[0]!.text).toBe(`ran in ${String(args.region)}`)
    }
    expect(ran).toHaveLength(before + accepted.length)
  })

  it("refuses with 400 -32020, before the tool runs, a header that is missing, differs, is sent for an absent value, or is malformed", async () => {
    const before = ran.length
    const refused: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ region: "us-west1", query: "q" }, {}, /Mcp-Param-Region header is required/],
      [{ region: "us-west1", query: "q" }, { "mcp-param-region": "us-east1" }, /does not match arguments\.region/],
      [{ region: "r", query: "q", opts: { limit: 42 } }, { "mcp-param-region": "r", "mcp-param-limit": "43" }, /Mcp-Param-Limit/],
      [{ region: "r", query: "q", opts: { dryRun: true } }, { "mcp-param-region": "r", "mcp-param-dry-run": "True" }, /Mcp-Param-Dry-Run/],
      [{ region: "r", query: "q" }, { "mcp-param-region": "r", "mcp-param-limit": "1" }, /set but arguments\.opts\.limit is absent/],
      [{ region: "r", query: "q", opts: { dryRun: null } }, { "mcp-param-region": "r", "mcp-param-dry-run": "false" }, /is null/],
      [{ region: "r", query: "q" }, { "mcp-param-region": "=?base64?not base64!?=" }, /malformed/],
      // The sentinel decoded, then compared: "Grüße" sent as the wrong Base64.
      [{ region: "Grüße", query: "q" }, { "mcp-param-region": encodeHeaderValue("Gruesse ") }, /does not match/]
    ]
    for (const [i, [args, headers, message]] of refused.entries()) {
      const res = await call(100 + i, args, headers)
      expect(res.status, JSON.stringify(headers)).toBe(400)
      const body = (await res.json()) as { id: number; error: { code: number; message: string } }
      expect(body.id).toBe(100 + i)
      expect(body.error.code).toBe(-32020)
      expect(body.error.message).toMatch(message)
    }
    expect(ran.length).toBe(before)
  })

  it("our modern client mirrors the annotated arguments and our server accepts them", async () => {
    const client = ModernClient.create(new ModernHttpWire({ url: handle.url }))
    await client.listTools() // learns the annotations
    const result = await client.callTool("execute_sql", { region: "Zürich", query: "SELECT 1", opts: { dryRun: true, limit: 7 } })
    expect((result.content as ReadonlyArray<{ text: string }>)[0]!.text).toBe("ran in Zürich")
    await client.close()
  })

  it("a tool whose x-mcp-header annotations break the rules cannot be registered", () => {
    const server = new McpServer({ name: "bad", version: "1" })
    expect(() =>
      server.tool({ name: "dup", inputSchema: { type: "object", properties: { a: { type: "string", "x-mcp-header": "K" }, b: { type: "string", "x-mcp-header": "k" } } } }, () => ({ content: [] }))
    ).toThrow(/not unique/)
    expect(server.tools.size).toBe(0)
  })
})

describe("Mcp-Param-* value rules (pure)", () => {
  it("decodes strictly: field-value characters only, a Base64 payload of valid UTF-8", () => {
    expect(decodeHeaderValue("us-west1")).toBe("us-west1")
    expect(decodeHeaderValue("a b\tc")).toBe("a b\tc")
    expect(decodeHeaderValue("=?base64?SGVsbG8sIOS4lueVjA==?=")).toBe("Hello, 世界")
    expect(decodeHeaderValue("caf\u00e9")).toBeUndefined() // non-ASCII must travel encoded
    expect(decodeHeaderValue("a\nb")).toBeUndefined()
    expect(decodeHeaderValue("=?base64?SGVsbG8?=")).toBeUndefined() // unpadded
    expect(decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString("base64")}?=`)).toBeUndefined() // not UTF-8
    for (const v of ["plain", " padded ", "line1\nline2", "=?base64?literal?=", "Grüße", ""]) expect(decodeHeaderValue(encodeHeaderValue(v))).toBe(v)
  })

  it("checks every annotation against the arguments", () => {
    const annotations = [{ name: "Region", path: ["region"] }, { name: "Limit", path: ["opts", "limit"] }]
    const headers = (h: Record<string, string>) => (name: string) => h[name]
    expect(checkParamHeaders(annotations, { region: "x", opts: { limit: 5 } }, headers({ "mcp-param-region": "x", "mcp-param-limit": "5" }))).toBeUndefined()
    expect(checkParamHeaders(annotations, { region: "x", opts: { limit: 5 } }, headers({ "mcp-param-region": "x", "mcp-param-limit": "5e0" }))).toBeUndefined()
    expect(checkParamHeaders(annotations, { region: "x", opts: { limit: 5 } }, headers({ "mcp-param-region": "x", "mcp-param-limit": " " }))).toMatch(/Limit/)
    expect(checkParamHeaders(annotations, { region: "x", opts: "not an object" }, headers({ "mcp-param-region": "x" }))).toBeUndefined()
    expect(checkParamHeaders(annotations, { region: { nested: 1 } }, headers({ "mcp-param-region": "[object Object]" }))).toMatch(/does not match/)
  })
})
