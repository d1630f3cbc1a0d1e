/**
 * Era classification for a dual-era peer (spec-digest §0, §2.B):
 * `initialize` ⇒ legacy; a request whose `_meta` carries
 * `io.modelcontextprotocol/protocolVersion` ⇒ modern.
 */
import type { JsonRpcMessage } from "./jsonrpc.ts"
import { META_PROTOCOL_VERSION } from "./modern.ts"

/**
 * Which protocol generation a peer speaks: `legacy` (sessions, `initialize`,
 * 2024-11-05…2025-11-25) or `modern` (sessionless, 2026-07-28).
 */
export type Era = "legacy" | "modern"

export const classifyEra = (message: JsonRpcMessage): Era | undefined => {
  if (!("method" in message)) return undefined
  if (message.method === "initialize") return "legacy"
  if (message.method === "server/discover") return "modern"
  const meta = message.params?._meta
  if (meta !== undefined && typeof meta === "object" && meta !== null && META_PROTOCOL_VERSION in meta) return "modern"
  return undefined
}
