/**
 * Connect a legacy client session over WebSocket (our custom transport,
 * `src/transports/wsTransport.ts`). The handshake must succeed first: a refused
 * upgrade rejects with `WsConnectError` (its HTTP status) before any MCP traffic.
 * For a modern server, `ModernClient.create(makeWsClientTransport({ url }))`
 * after awaiting `opened` (cancellation is then `notifications/cancelled`).
 */
import { makeWsClientTransport, type WsClientOptions } from "../transports/wsClient.ts"
import type { Client } from "./Client.ts"
import type { ClientSessionOptions } from "./ClientSession.ts"
import { type ClientRuntimeOptions, onRuntimeClock } from "./clientConnection.ts"
import { connectLegacyClient } from "./connectLegacyClient.ts"

/** Socket options (headers, handshake deadline, …) plus the session's options. */
export type WsConnectOptions = Omit<WsClientOptions, "url"> & ClientSessionOptions & ClientRuntimeOptions

/**
 * Open a WebSocket to `url` and connect a legacy client session over it.
 *
 * Rejects with `WsConnectError` (carrying the HTTP status) when the upgrade is refused,
 * or a `ConnectError` when the handshake fails; the socket is then closed.
 *
 * @example
 * ```ts
 * import { connectWs } from "mcp-actors"
 *
 * const client = await connectWs("ws://127.0.0.1:3001/mcp", { requestTimeoutMs: 30_000 })
 * console.log(await client.ping())
 * await client.close()
 * ```
 */
export const connectWs = (url: string | URL, options: WsConnectOptions = {}): Promise<Client> => {
  // The heartbeat, close and request deadlines run on the runtime's clock unless given one.
  const opts = onRuntimeClock(options)
  const transport = makeWsClientTransport({ ...opts, url })
  return connectLegacyClient(transport, transport.opened, opts)
}
