/** The InitializeResult a legacy session answers `initialize` with. */
import type { ServerCapabilities } from "../../protocol/capabilities.ts"
import type { LegacyVersion } from "../../protocol/versions.ts"
import type { McpServer } from "../McpServer.ts"

/** The advertised capabilities a client speaking `version` knows (`completions` arrived in 2025-03-26). */
const capabilitiesFor = (caps: ServerCapabilities, version: string | undefined): ServerCapabilities => {
  if ((version ?? "") >= "2025-03-26" || caps.completions === undefined) return caps
  const { completions: _, ...older } = caps
  return older
}

/** The result of `initialize` for a client that negotiated `protocolVersion`. */
export const initializeResult = (server: McpServer, protocolVersion: LegacyVersion | undefined): Record<string, unknown> => {
  const result: Record<string, unknown> = {
    protocolVersion,
    capabilities: capabilitiesFor(server.capabilities(), protocolVersion),
    serverInfo: server.info
  }
  // `instructions` arrived in 2025-03-26: an older client is not sent fields its version lacks.
  if (server.instructions !== undefined && (protocolVersion ?? "") >= "2025-03-26") result.instructions = server.instructions
  return result
}
