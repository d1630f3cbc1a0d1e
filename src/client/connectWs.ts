/**
 * Connect a client over WebSocket (our custom transport, `src/transports/wsTransport.ts`),
 * in the legacy era unless `era` says otherwise. The handshake must succeed first: a refused
 * upgrade rejects with `WsConnectError` (its HTTP status) before any MCP traffic.
 * For a modern server, `era: "modern"` (or `"auto"`): cancellation is then
 * `notifications/cancelled`.
 */
import { makeWsClientTransport, type WsClientOptions } from "../transports/wsClient.ts"
import type { Client } from "./Client.ts"
import { onRuntimeClock, openClient } from "./clientConnection.ts"
import { type AutoConnectOptions, messageClientWire } from "./messageClientWire.ts"

/** Socket options (headers, handshake deadline, …) plus the session's, the runtime's and the era's options. */
export type WsConnectOptions = Omit<WsClientOptions, "url"> & AutoConnectOptions

/**
 * Open a WebSocket to `url` and connect over it in the era `era` says: `"legacy"` by
 * default (a legacy session), `"modern"`, or `"auto"` (probe; cached only under `key`).
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
  return openClient(messageClientWire(transport, transport.opened), { ...opts, era: opts.era ?? "legacy" })
}
