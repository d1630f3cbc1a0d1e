/**
 * Connect a legacy client session over WebSocket (our custom transport,
 * `src/transports/wsTransport.ts`). The handshake must succeed first: a refused
 * upgrade rejects with `WsConnectError` (its HTTP status) before any MCP traffic.
 * For a modern server, `ModernClient.create(makeWsClientTransport({ url }))`
 * after awaiting `opened` (cancellation is then `notifications/cancelled`).
 */
import { makeWsClientTransport, type WsClientOptions } from "../transports/wsClient.ts"
import { ClientSession, type ClientSessionOptions } from "./ClientSession.ts"

export type WsConnectOptions = Omit<WsClientOptions, "url"> & ClientSessionOptions

export const connectWs = async (url: string | URL, options: WsConnectOptions = {}): Promise<ClientSession> => {
  const transport = makeWsClientTransport({ ...options, url })
  try {
    await transport.opened
    return await ClientSession.connect(transport, options)
  } catch (e) {
    await transport.close()
    throw e
  }
}
