/**
 * Client side of the WebSocket transport: dial `url` offering the `mcp`
 * subprotocol (what SDK v1 clients and servers use), then behave as
 * `makeWsTransport` (framing, size limit, heartbeat). `opened` settles once the
 * handshake is done: a refused upgrade (403 foreign Origin, 401, 503) rejects
 * it with the HTTP status, and the transport then reports its end.
 */
import { Schema } from "effect"
import WebSocket from "ws"
import { DEFAULT_MAX_MESSAGE_BYTES, type Transport } from "./Transport.ts"
import { makeWsTransport, WS_HARD_LIMIT_FACTOR, WS_SUBPROTOCOL, type WsTransportOptions } from "./wsTransport.ts"

/** Where and how to dial: URL, handshake headers and deadline, plus the transport's options. */
export interface WsClientOptions extends WsTransportOptions {
  readonly url: string | URL
  /** Extra handshake headers (Authorization, …). */
  readonly headers?: Readonly<Record<string, string>>
  /** Handshake deadline. Default 10 000 ms. */
  readonly connectTimeoutMs?: number
}

/** The upgrade was refused (`status`: the HTTP status the server answered) or never completed (no status). */
export class WsConnectError extends Schema.TaggedError<WsConnectError>()("WsConnectError", {
  message: Schema.String,
  status: Schema.optional(Schema.Number)
}) {}

/** A client WebSocket transport; `opened` tells whether the upgrade succeeded. */
export interface WsClientTransport extends Transport {
  readonly socket: WebSocket
  /** Resolves once the WebSocket is open; rejects with `WsConnectError`. */
  readonly opened: Promise<void>
  /** The URL dialled (telemetry's `server.address`/`server.port`). */
  readonly url: URL
}

/** Dial a WebSocket MCP endpoint; most callers want `connectWs` (legacy) or `ModernClient.create` on it. */
export const makeWsClientTransport = (options: WsClientOptions): WsClientTransport => {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const socket = new WebSocket(options.url, [WS_SUBPROTOCOL], {
    headers: { ...options.headers },
    maxPayload: maxMessageBytes * WS_HARD_LIMIT_FACTOR,
    handshakeTimeout: options.connectTimeoutMs ?? 10_000
  })
  const opened = new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve())
    socket.once("unexpected-response", (_req, res) => {
      reject(new WsConnectError({ message: `WebSocket upgrade refused: HTTP ${res.statusCode ?? "?"}`, status: res.statusCode }))
      res.resume()
      socket.terminate()
    })
    socket.once("error", (e: Error) => reject(new WsConnectError({ message: `WebSocket connection failed: ${e.message}` })))
  })
  opened.catch(() => {}) // a caller that never awaits it must not see an unhandled rejection
  return Object.assign(makeWsTransport(socket, options), { opened, url: new URL(socket.url) })
}
