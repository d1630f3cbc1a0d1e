/** Results of modern-era (2026-07-28) requests: `resultType` and the server's info in `_meta`, and `server/discover`. */
import { META_SERVER_INFO } from "../../protocol/modern.ts"
import { LEGACY_VERSIONS, MODERN_VERSIONS } from "../../protocol/versions.ts"
import type { Result } from "../dispatch.ts"
import type { McpServer } from "../McpServer.ts"

/** A handler's value as a modern result: `resultType: "complete"` unless it says otherwise, the server's info in `_meta`. */
export const modernResult = (server: McpServer, value: Result): Result => {
  const meta = (value._meta as Record<string, unknown> | undefined) ?? {}
  return { resultType: "complete", ...value, _meta: { ...meta, [META_SERVER_INFO]: server.info } }
}

/** The answer to `server/discover`: every version served here, the capabilities, the instructions. */
export const discoverResult = (server: McpServer): Result => {
  const value: Record<string, unknown> = {
    supportedVersions: [...MODERN_VERSIONS, ...LEGACY_VERSIONS],
    capabilities: server.capabilities()
  }
  if (server.instructions !== undefined) value.instructions = server.instructions
  return modernResult(server, value)
}
