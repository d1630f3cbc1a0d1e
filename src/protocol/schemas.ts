/**
 * The `effect/Schema` definitions of the wire format, reused from Effect's own
 * MCP module (`effect/ai/McpSchema`) rather than declared again. They are the
 * reference the hand-written hot-path decoder in `jsonrpc.ts` is tested
 * against (`test/protocol.schemas.test.ts`), and what Effect users decode
 * results with. See docs/architecture.md, "Validation".
 */
import * as Schema from "effect/Schema"
import * as McpSchema from "effect/ai/McpSchema"

export { McpSchema }

/** A JSON-RPC envelope as MCP peers exchange it (params/result left to each method). */
export const JsonRpcMessage = McpSchema.JsonRpcMessage

/**
 * MCP tightens JSON-RPC: ids are strings or *integers* and never null
 * (2025-11-25/basic/index.mdx). McpSchema accepts any finite number; this
 * refinement is the stricter reference our decoder implements.
 */
export const McpRequestId = Schema.Union([Schema.String, Schema.Int])

/** `initialize` params: what the server chart's `validInitializeParams` guard checks. */
export const InitializeParams = Schema.Struct({
  protocolVersion: Schema.String,
  capabilities: Schema.Record(Schema.String, Schema.Unknown),
  clientInfo: Schema.Struct({ name: Schema.String, version: Schema.String })
})

export const isJsonRpcMessage = Schema.is(JsonRpcMessage)
export const isInitializeParams = Schema.is(InitializeParams)
