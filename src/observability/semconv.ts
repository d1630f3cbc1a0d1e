/**
 * Names from the OpenTelemetry MCP semantic conventions (now in the GenAI
 * conventions, `open-telemetry/semantic-conventions-genai` `docs/gen-ai/mcp.md`,
 * status Development). Kept here as plain strings: `@opentelemetry/semantic-conventions`
 * marks its `ATTR_MCP_*` constants deprecated ("moved"), and we need nothing else from it.
 */

// Span and metric attributes.
export const MCP_METHOD_NAME = "mcp.method.name"
export const MCP_SESSION_ID = "mcp.session.id"
export const MCP_PROTOCOL_VERSION = "mcp.protocol.version"
export const MCP_RESOURCE_URI = "mcp.resource.uri"
export const JSONRPC_REQUEST_ID = "jsonrpc.request.id"
export const GEN_AI_TOOL_NAME = "gen_ai.tool.name"
export const GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"
export const GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
/** Opt-in: the tool call's arguments (may hold secrets). */
export const GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
export const RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code"
export const ERROR_TYPE = "error.type"
export const NETWORK_TRANSPORT = "network.transport"
export const NETWORK_PROTOCOL_NAME = "network.protocol.name"
export const SERVER_ADDRESS = "server.address"
export const SERVER_PORT = "server.port"

/** `error.type` of a tool call whose result has `isError: true`. */
export const TOOL_ERROR = "tool_error"

// Histograms, in seconds.
export const MCP_SERVER_OPERATION_DURATION = "mcp.server.operation.duration"
export const MCP_CLIENT_OPERATION_DURATION = "mcp.client.operation.duration"
export const MCP_SERVER_SESSION_DURATION = "mcp.server.session.duration"
export const MCP_CLIENT_SESSION_DURATION = "mcp.client.session.duration"

/** Explicit bucket boundaries the conventions advise for the four MCP histograms (seconds). */
export const DURATION_BUCKETS: ReadonlyArray<number> = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]

/** `network.transport` per transport kind: stdio is a pipe; HTTP and WebSocket run over TCP. */
export const networkTransportOf = (kind: string): string | undefined =>
  kind === "stdio" ? "pipe" : kind === "http" || kind === "ws" ? "tcp" : undefined

/** `network.protocol.name` per transport kind. */
export const networkProtocolOf = (kind: string): string | undefined =>
  kind === "http" ? "http" : kind === "ws" ? "websocket" : undefined

/** The span's target: the tool or prompt a request names (`{mcp.method.name} {target}`). */
export const targetOf = (method: string, params: { readonly [key: string]: unknown } | undefined): string | undefined => {
  if (method !== "tools/call" && method !== "prompts/get") return undefined
  const name = params?.name
  return typeof name === "string" ? name : undefined
}
