/**
 * How a modern (2026-07-28) client reaches its server: the wire contract, and its
 * implementation over a message transport (stdio, WebSocket, memory). The Streamable
 * HTTP wire is `http/client/ModernHttpWire.ts`. The client (`ModernClient`) is above.
 */
import { decodeText, invalidResponseError, type JsonRpcMessage, type JsonRpcRequest, notification, oversizedResponseError, type RequestId } from "../protocol/jsonrpc.ts"
import type { Transport, TransportClosed, TransportKind } from "./Transport.ts"

export interface WireHandlers {
  /** One decoded message from the server (a response, or a notification related to a request). */
  readonly onMessage: (message: JsonRpcMessage) => void
  /** The wire ended; called once. In-flight requests then fail with ConnectionLost. */
  readonly onClose: (closed: TransportClosed) => void
  /** Something unreadable arrived (for diagnostics). */
  readonly onInvalid?: (detail: string) => void
  /**
   * A request-scoped wire (Streamable HTTP) failed this one request with a
   * typed error (an HTTP status, a lost response stream) while the wire stays
   * up: the request ends and its caller gets `error`.
   */
  readonly onRequestFailed?: (id: RequestId, error: Error) => void
}

/**
 * How a modern client reaches its server. Message transports share one channel
 * (`messageWire`); Streamable HTTP makes one exchange per request and feeds the
 * response (JSON body or SSE events) to `onMessage`.
 */
export interface ModernWire {
  readonly kind: TransportKind
  /** The server's URL when the wire dials one (HTTP): telemetry's `server.address`/`server.port`. */
  readonly url?: URL
  start(handlers: WireHandlers): void
  /** Send one request. */
  send(request: JsonRpcRequest): void
  /** Optional: send one request already serialized (a message transport that takes text: `Transport.sendText`). */
  sendText?(text: string): void
  /** Cancel an in-flight request (stdio: `notifications/cancelled`; HTTP: close its response stream). */
  cancel(id: RequestId, reason: string): void
  /** Release the wire; `onClose` follows. Idempotent. */
  close(): Promise<void>
}

/** A modern wire over a message transport (stdio, WebSocket, memory). */
export const messageWire = (transport: Transport): ModernWire => ({
  kind: transport.kind,
  start: (h) =>
    transport.start({
      onFrame: (text) => {
        const d = decodeText(text)
        if (d._tag === "Message") return h.onMessage(d.message)
        h.onInvalid?.(`ignored an invalid message from the server: ${text.slice(0, 200)}`)
        // An invalid response to a request in flight fails that request now (not at its deadline).
        const failed = invalidResponseError(d)
        if (failed !== undefined) h.onMessage(failed)
      },
      onOversized: (bytes, edges) => {
        h.onInvalid?.(`dropped an oversized message of ${bytes} bytes from the server`)
        const failed = oversizedResponseError(bytes, edges)
        if (failed !== undefined) h.onMessage(failed)
      },
      onClose: h.onClose
    }),
  send: (req) => transport.send(req),
  ...(transport.sendText === undefined ? {} : { sendText: (text: string) => transport.sendText!(text) }),
  cancel: (id, reason) => transport.send(notification("notifications/cancelled", { requestId: id, reason })),
  close: () => transport.close()
})
