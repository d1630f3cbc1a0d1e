/**
 * Modern-era (2026-07-28) per-request metadata: every request carries its
 * protocol version and client capabilities in `_meta`
 * (2026-07-28/basic/index.mdx:L373-L410); there is no session to remember them.
 */
import type { ClientCapabilities } from "./capabilities.ts"
import { capabilityObject, hasCapability, requiredClientCapability } from "./capabilities.ts"
import { ErrorCode, type RpcErrorObject, rpcError } from "./errors.ts"
import type { JsonRpcRequest } from "./jsonrpc.ts"
import { isModernVersion, MODERN_VERSIONS, type ModernVersion } from "./versions.ts"

export const META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
export const META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
export const META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
export const META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
export const META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"

export interface ModernRequestContext {
  readonly protocolVersion: ModernVersion
  readonly clientCapabilities: ClientCapabilities
  readonly clientInfo: { readonly name?: string; readonly version?: string } | undefined
  readonly logLevel: string | undefined
}

/**
 * Read a modern request's context from its `_meta`, or the error to answer:
 * missing fields → -32602, unsupported version → -32022 with `supported`.
 */
export const readModernContext = (
  req: JsonRpcRequest
): { readonly ok: true; readonly context: ModernRequestContext } | { readonly ok: false; readonly error: RpcErrorObject } => {
  const meta = req.params?._meta as Record<string, unknown> | undefined
  const version = meta?.[META_PROTOCOL_VERSION]
  const caps = meta?.[META_CLIENT_CAPABILITIES]
  if (typeof version !== "string") {
    return { ok: false, error: rpcError(ErrorCode.InvalidParams, `Invalid params: _meta["${META_PROTOCOL_VERSION}"] is required`) }
  }
  if (!isModernVersion(version)) {
    return {
      ok: false,
      error: rpcError(ErrorCode.UnsupportedProtocolVersion, `Unsupported protocol version: ${version}`, {
        supported: [...MODERN_VERSIONS],
        requested: version
      })
    }
  }
  if (typeof caps !== "object" || caps === null || Array.isArray(caps)) {
    return { ok: false, error: rpcError(ErrorCode.InvalidParams, `Invalid params: _meta["${META_CLIENT_CAPABILITIES}"] is required`) }
  }
  const info = meta?.[META_CLIENT_INFO]
  const level = meta?.[META_LOG_LEVEL]
  return {
    ok: true,
    context: {
      protocolVersion: version,
      clientCapabilities: caps as ClientCapabilities,
      clientInfo: typeof info === "object" && info !== null ? (info as ModernRequestContext["clientInfo"]) : undefined,
      logLevel: typeof level === "string" ? level : undefined
    }
  }
}

/** -32021 when a modern request needs a client capability it did not declare. */
export const missingClientCapability = (
  caps: ClientCapabilities,
  needed: ReadonlyArray<string>
): RpcErrorObject | undefined => {
  const missing = needed.filter((path) => !hasCapability(caps, path))
  return missing.length === 0
    ? undefined
    : rpcError(ErrorCode.MissingRequiredClientCapability, `Missing required client capability: ${missing.join(", ")}`, {
      requiredCapabilities: capabilityObject(missing)
    })
}

/** The client capability a server→client interaction (sampling, elicitation, roots) needs. */
export const clientCapabilityFor = requiredClientCapability

/** Build the `_meta` a modern client attaches to every request. */
export const modernMeta = (
  version: ModernVersion,
  capabilities: ClientCapabilities,
  clientInfo: { readonly name: string; readonly version: string }
): Record<string, unknown> => ({
  [META_PROTOCOL_VERSION]: version,
  [META_CLIENT_CAPABILITIES]: capabilities,
  [META_CLIENT_INFO]: clientInfo
})
