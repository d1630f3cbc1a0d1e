/**
 * A WebSocket as an MCP message transport (either side). WebSocket is not a
 * spec-defined MCP transport; a custom one "MUST preserve the JSON-RPC message
 * format and lifecycle requirements" (2025-11-25/basic/transports.mdx:L311-L320;
 * 2026-07-28 adds the per-request metadata model). Our framing, documented as
 * the spec asks (spec-digest §5):
 *
 * - one JSON-RPC message per **text** frame (UTF-8); subprotocol `mcp`, as the
 *   SDK v1 `WebSocketClientTransport` offers it; binary frames are refused with
 *   close code 1003;
 * - a frame over `maxMessageBytes` is discarded and reported (`onOversized`:
 *   the session answers -32600 and the socket stays usable); one beyond 16 ×
 *   that is cut by `ws` itself (close 1009) before it is even buffered;
 * - legacy: the session lives exactly as long as the socket; modern: each frame
 *   is a stateless request, cancelled with `notifications/cancelled`, as on stdio;
 * - liveness: a WebSocket ping every `heartbeatMs` (default 30 s); a peer that
 *   has not answered the previous one by the next is terminated. A half-open
 *   TCP connection is thus found without MCP pings, so the transport reports
 *   `authoritativeLiveness`.
 */
import type { Writable } from "node:stream"
import type WebSocket from "ws"
import { type Clock, every, systemClock, unrefTimer } from "../protocol/clock.ts"
import { encode, type JsonRpcBatchResponse, type JsonRpcMessage } from "../protocol/jsonrpc.ts"
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  FRAME_EDGE_CHARS,
  type Transport,
  type TransportCloseDetail,
  type TransportClosed,
  type TransportHandlers
} from "./Transport.ts"
import { stallDeadline, type UnsentOutput, unsentOutput } from "./unsentOutput.ts"

/** The WebSocket subprotocol both sides offer (`mcp`, as the SDK v1 WebSocket transport does). */
export const WS_SUBPROTOCOL = "mcp"
/** `ws` cuts frames beyond this multiple of `maxMessageBytes` unbuffered (close 1009). */
export const WS_HARD_LIMIT_FACTOR = 16

/** Options shared by both ends of a WebSocket transport: size limit, heartbeat, close deadline. */
export interface WsTransportOptions {
  readonly maxMessageBytes?: number
  /** WebSocket ping period; 0 turns the heartbeat off. Default 30 000 ms. */
  readonly heartbeatMs?: number
  /**
   * How long `close()` waits for the peer's close frame before terminating, re-armed while the
   * peer is still taking what was sent before the close (a slow reader). Default 2000 ms.
   */
  readonly closeTimeoutMs?: number
  /** The clock of the heartbeat and the close deadline. Default: the system clock. */
  readonly clock?: Clock
}

/**
 * The close code for why we close (RFC 6455 §7.4): 4408 for a deadline of ours
 * (the 4xxx private range, as graphql-ws's "connection initialisation timeout":
 * 408 is HTTP's Request Timeout), 1013 "Try Again Later" when evicted to make
 * room, 1001 "Going Away" on shutdown, 1000 otherwise.
 */
export const wsCloseCode = (cause: TransportCloseDetail["cause"]): number =>
  cause === "timeout" ? 4408 : cause === "overload" ? 1013 : cause === "shutdown" ? 1001 : 1000

/** A close reason fits in 123 bytes (RFC 6455 §5.5: control frame payload ≤ 125, 2 for the code). */
const closeReasonText = (reason: string): string => {
  if (Buffer.byteLength(reason) <= 123) return reason
  let cut = reason.slice(0, 120)
  while (Buffer.byteLength(cut) > 120) cut = cut.slice(0, -1)
  return `${cut}...`
}

/** All of it out: the peer has had a period to answer our close frame (or nothing is left to read). */
const NOTHING_UNSENT: ReadonlyMap<Writable, UnsentOutput> = new Map()

/** Close codes that end a connection normally (RFC 6455 §7.4.1): 1000 normal, 1001 going away. */
const NORMAL_CLOSE = new Set([1000, 1001])

/** Wrap an open (or opening) socket. Frames received before `start` are kept and delivered then. */
export const makeWsTransport = (socket: WebSocket, options: WsTransportOptions = {}): Transport & { readonly socket: WebSocket } => {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const heartbeatMs = options.heartbeatMs ?? 30_000
  const clock = options.clock ?? systemClock
  let handlers: TransportHandlers | undefined
  const early: Array<() => void> = []
  let ended: TransportClosed | undefined
  let alive = true
  let heartbeat: (() => void) | undefined
  let closing: Promise<void> | undefined

  const deliver = (fn: (h: TransportHandlers) => void): void => {
    if (handlers !== undefined) fn(handlers)
    else early.push(() => fn(handlers!))
  }
  const finish = (closed: TransportClosed): void => {
    if (ended !== undefined) return
    ended = closed
    heartbeat?.()
    heartbeat = undefined
    socket.off("message", onMessage)
    socket.off("pong", onPong)
    deliver((h) => h.onClose(closed))
  }
  const onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    if (isBinary) {
      // Text frames only: a binary frame is a protocol violation of our framing (1003 = unsupported data).
      socket.close(1003, "MCP over WebSocket uses text frames")
      return
    }
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength
    if (bytes > maxMessageBytes) {
      // Its two ends, for a client to tell whose response it was (no copy of the whole; a UTF-8
      // sequence cut at an edge decodes as U+FFFD).
      const first = Array.isArray(data) ? data[0]! : Buffer.isBuffer(data) ? data : Buffer.from(data)
      const last = Array.isArray(data) ? data[data.length - 1]! : first
      const edges = { head: first.subarray(0, FRAME_EDGE_CHARS).toString("utf8"), tail: last.subarray(-FRAME_EDGE_CHARS).toString("utf8") }
      return deliver((h) => h.onOversized(bytes, edges))
    }
    // A Buffer (ws's default binaryType) is decoded in place: `Buffer.from(buffer)` would copy it first.
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data).toString("utf8")
    deliver((h) => h.onFrame(text))
  }
  const onPong = (): void => {
    alive = true
  }
  socket.on("message", onMessage)
  socket.on("pong", onPong)
  socket.once("close", (code: number, reason: Buffer) => {
    const text = reason.toString("utf8")
    finish({ expected: NORMAL_CLOSE.has(code), reason: `socket closed (${code}${text ? ` ${text}` : ""})` })
  })
  socket.on("error", (e: Error) => finish({ expected: false, reason: `socket error: ${e.message}` }))

  const startHeartbeat = (): void => {
    if (heartbeatMs <= 0 || heartbeat !== undefined || ended !== undefined) return
    heartbeat = every(clock, heartbeatMs, () => {
      if (!alive) {
        // No pong since the last ping: the peer (or the path to it) is gone.
        socket.terminate()
        finish({ expected: false, reason: `peer unresponsive (no pong within ${heartbeatMs} ms)` })
        return
      }
      alive = false
      socket.ping()
    }, { unref: true })
  }

  return {
    kind: "ws",
    authoritativeLiveness: heartbeatMs > 0,
    socket,
    start(h) {
      if (handlers !== undefined) throw new Error("WebSocket transport: start() called twice")
      handlers = h
      for (const fn of early.splice(0)) fn()
      if (socket.readyState === socket.OPEN) startHeartbeat()
      else socket.once("open", startHeartbeat)
    },
    send(message: JsonRpcMessage | JsonRpcBatchResponse) {
      if (ended !== undefined || socket.readyState !== socket.OPEN) return
      socket.send(encode(message))
    },
    sendText(text: string) {
      if (ended !== undefined || socket.readyState !== socket.OPEN) return
      socket.send(text)
    },
    close(detail) {
      if (closing !== undefined) return closing
      closing = new Promise<void>((resolve) => {
        if (socket.readyState === socket.CLOSED) {
          finish({ expected: true, reason: "closed" })
          return resolve()
        }
        // The peer answers our close frame once it has read what we sent before it: a peer that
        // takes some of it in each period (a slow reader) is waited for, one that takes none is cut.
        const unsent = (): ReadonlyMap<Writable, UnsentOutput> => {
          const raw = (socket as unknown as { readonly _socket?: Writable | null })._socket
          const output = raw === undefined || raw === null ? undefined : unsentOutput(raw)
          return output === undefined || (output.length === 0 && output.queued === 0) ? NOTHING_UNSENT : new Map([[raw!, output]])
        }
        const cancel = stallDeadline(clock, options.closeTimeoutMs ?? 2_000, unsent, () => socket.terminate(), { unref: true })
        socket.once("close", () => {
          cancel()
          resolve()
        })
        if (socket.readyState === socket.CONNECTING) socket.terminate()
        else socket.close(wsCloseCode(detail?.cause), closeReasonText(detail?.reason ?? "closed"))
      }).then(() => finish({ expected: true, reason: "closed" }))
      return closing
    }
  }
}
