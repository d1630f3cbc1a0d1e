/**
 * The -32601 a request gets before any handler runs when this server does not
 * serve its method: its capability is not declared, or the request's era
 * removed it. Shared by the legacy session and the modern request.
 */
import { hasCapability, requiredServerCapability } from "../../protocol/capabilities.ts"
import { ErrorCode, type RpcErrorObject, rpcError } from "../../protocol/errors.ts"
import type { ModernRequestContext } from "../../protocol/modern.ts"
import type { McpServer } from "../McpServer.ts"

/** Methods 2026-07-28 removed (changelog items 4-5; ping is the era's own case). */
const REMOVED_IN_MODERN: ReadonlySet<string> = new Set(["logging/setLevel", "resources/subscribe", "resources/unsubscribe"])

/** Why `method` is not served to this request (-32601), or undefined. `modern`: the request's `_meta` (2026-07-28). */
export const methodRefusal = (server: McpServer, method: string, modern: ModernRequestContext | undefined): RpcErrorObject | undefined => {
  // Removed in 2026-07-28.
  if (modern !== undefined && method === "ping") return rpcError(ErrorCode.MethodNotFound, "Method not found: ping is not part of protocol 2026-07-28")
  const capability = requiredServerCapability(method)
  if (capability !== undefined && !hasCapability(server.capabilities(), capability)) {
    return rpcError(ErrorCode.MethodNotFound, `Method not found: ${method} (server capability "${capability}" not supported)`)
  }
  if (modern !== undefined && REMOVED_IN_MODERN.has(method)) {
    return rpcError(ErrorCode.MethodNotFound, `Method not found: ${method} is not part of protocol ${modern.protocolVersion}`)
  }
  return undefined
}
