import { describe, expect, it } from "vitest"
import { isValidInitializeParams } from "../machines/legacyServerSession.ts"
import { decodeText, decodeValue } from "../src/protocol/jsonrpc.ts"
import { isInitializeParams, isJsonRpcMessage } from "../src/protocol/schemas.ts"

// The hot-path decoder must accept exactly what the effect/Schema reference accepts,
// except where MCP is stricter than JSON-RPC (integer ids, object params/result).
const valid: ReadonlyArray<unknown> = [
  { jsonrpc: "2.0", id: 1, method: "ping" },
  { jsonrpc: "2.0", id: "a", method: "tools/call", params: { name: "echo", arguments: { text: "x" } } },
  { jsonrpc: "2.0", method: "notifications/initialized" },
  { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 3 } },
  { jsonrpc: "2.0", id: 2, result: {} },
  { jsonrpc: "2.0", id: "s1", result: { content: [] } },
  { jsonrpc: "2.0", id: 3, error: { code: -32601, message: "Method not found" } },
  { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } },
  { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request", data: { x: 1 } } }
]
const invalidForBoth: ReadonlyArray<unknown> = [
  null,
  42,
  "ping",
  {},
  { id: 1, method: "ping" },
  { jsonrpc: "1.0", id: 1, method: "ping" },
  { jsonrpc: "2.0", id: 1, method: 7 },
  { jsonrpc: "2.0", id: 4, error: { code: "x", message: "m" } },
  { jsonrpc: "2.0", id: 4, error: { code: 1.5, message: "m" } },
  { jsonrpc: "2.0", id: 4, error: { code: -1 } }
]
// Accepted by plain JSON-RPC (and McpSchema) but not by MCP.
const invalidForMcpOnly: ReadonlyArray<unknown> = [
  { jsonrpc: "2.0", id: 1.5, method: "ping" }, // ids are integers
  { jsonrpc: "2.0", id: 1, result: 5 }, // results are objects
  { jsonrpc: "2.0", id: 1, method: "ping", params: [1, 2] }, // params are objects (McpSchema rejects arrays too)
  { jsonrpc: "2.0", id: {}, method: "ping" } // McpSchema reads this as a notification with an extra key
]

describe("JSON-RPC decoding agrees with the effect/Schema reference", () => {
  it.each(valid.map((v) => [JSON.stringify(v), v]))("accepts %s", (_, v) => {
    expect(isJsonRpcMessage(v)).toBe(true)
    expect(decodeValue(v)._tag).toBe("Message")
  })
  it.each(invalidForBoth.map((v) => [JSON.stringify(v), v]))("rejects %s", (_, v) => {
    expect(isJsonRpcMessage(v)).toBe(false)
    expect(decodeValue(v)._tag).toBe("Invalid")
  })
  it.each(invalidForMcpOnly.map((v) => [JSON.stringify(v), v]))("is stricter than JSON-RPC on %s", (_, v) => {
    expect(decodeValue(v)._tag).toBe("Invalid")
  })
  it("answers invalid JSON with -32700 and id null", () => {
    const d = decodeText("{nope")
    expect(d._tag).toBe("Invalid")
    if (d._tag === "Invalid") expect(d.reply).toMatchObject({ id: null, error: { code: -32700 } })
  })
  it("never answers an invalid notification with a request id", () => {
    const d = decodeValue({ jsonrpc: "2.0", id: null, method: "ping" })
    expect(d._tag).toBe("Invalid")
    if (d._tag === "Invalid") expect(d.reply?.id).toBeNull()
  })
})

describe("initialize params guard agrees with its Schema", () => {
  const cases: ReadonlyArray<unknown> = [
    { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } },
    { protocolVersion: "2025-11-25", capabilities: { roots: {} }, clientInfo: { name: "c", version: "1", title: "C" } },
    { protocolVersion: 20251125, capabilities: {}, clientInfo: { name: "c", version: "1" } },
    { protocolVersion: "2025-11-25", clientInfo: { name: "c", version: "1" } },
    { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c" } },
    { protocolVersion: "2025-11-25", capabilities: [], clientInfo: { name: "c", version: "1" } },
    undefined,
    "x"
  ]
  it.each(cases.map((c) => [JSON.stringify(c), c]))("%s", (_, c) => {
    expect(isValidInitializeParams(c)).toBe(isInitializeParams(c))
  })
})
