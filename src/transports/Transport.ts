/**
 * The transport contract shared by stdio, WebSocket and in-memory transports:
 * a bidirectional channel of JSON-RPC text frames (one message per frame).
 * Streamable HTTP is request-scoped and plugs into sessions through
 * `src/server/ServerSession.ts` directly instead.
 *
 * Transports know nothing of MCP: they frame, enforce the size limit, and
 * report how they ended. Decoding and replies to bad frames belong to the
 * runtime, so every transport answers bad input the same way.
 */
import type { JsonRpcBatchResponse, JsonRpcMessage, RequestId } from "../protocol/jsonrpc.ts"

/** Which transport a session runs over (shown in `SessionInfo`; HTTP and stdio differ in liveness and framing). */
export type TransportKind = "stdio" | "http" | "ws" | "memory"

/** Why a transport ended. `expected` is false for a crash, a kill, a dropped socket. */
export interface TransportClosed {
  readonly expected: boolean
  readonly reason: string
  /** Child process exit code / signal, when the transport owns a process. */
  readonly exitCode?: number | null
  readonly signal?: string | null
}

/** The first and last characters of a discarded frame (at most {@link FRAME_EDGE_CHARS} each). */
export interface FrameEdges {
  readonly head: string
  readonly tail: string
}
/** How many characters of each end of an oversized frame a transport keeps. */
export const FRAME_EDGE_CHARS = 256

/** What a transport calls: one frame, one oversized frame, and its end (exactly once). */
export interface TransportHandlers {
  /** One complete frame (a line without its newline, a text frame). */
  readonly onFrame: (text: string) => void
  /**
   * A frame exceeded `maxMessageBytes`; it was discarded, the transport stays usable. `edges`: its
   * first and last characters, when the transport kept them (enough to tell whose response it was).
   */
  readonly onOversized: (bytes: number, edges?: FrameEdges) => void
  /** The transport ended; called exactly once. */
  readonly onClose: (closed: TransportClosed) => void
  /**
   * The peer will send nothing more, but replies can still be written (stdin
   * EOF on a stdio server: `printf '…' | server`). A handler that sets this
   * owns the end: it closes the transport when its replies are out. Without
   * it, input ending is reported as `onClose`.
   */
  readonly onInputEnded?: () => void
}

/**
 * Why the local side closes a transport, for transports that can tell the peer
 * (a WebSocket close code); the others ignore it.
 * - `timeout`: a deadline of ours passed (handshake, idle);
 * - `overload`: the server made room for others (evicted under its limits);
 * - `shutdown`: the server is going away.
 */
export interface TransportCloseDetail {
  readonly reason: string
  readonly cause?: "timeout" | "overload" | "shutdown"
}

/**
 * A bidirectional channel of JSON-RPC text frames. Implement it to serve or reach MCP over
 * a channel of your own; `serveTransport` and `ClientSession.connect` take any `Transport`.
 */
export interface Transport {
  readonly kind: TransportKind
  /**
   * True when the transport observes peer death by itself (a child process
   * exit, a socket close): keepalive pings may then be turned off.
   */
  readonly authoritativeLiveness: boolean
  /** Start delivering frames to `handlers`; call once. */
  start(handlers: TransportHandlers): void
  /**
   * Send one message, or the answer to a batch as one array (a server, 2025-03-26),
   * serialized and framed here: one line, one text frame. Dropped silently once closed.
   */
  send(message: JsonRpcMessage | JsonRpcBatchResponse): void
  /**
   * Optional: send one message already serialized (what `send` would make of it: one JSON-RPC
   * message as JSON text, no raw newline), framed here. A client that builds its request's text
   * from cached parts (`ModernClient`) skips an object and its serialization. Dropped silently once closed.
   */
  sendText?(text: string): void
  /** Graceful close; idempotent; resolves when every resource it holds is released. */
  close(detail?: TransportCloseDetail): Promise<void>
}

/**
 * What a session offers a request-scoped transport (Streamable HTTP) beyond the
 * `Transport` contract: fail one request with a typed error (an HTTP status
 * without a JSON-RPC body, a response stream lost on the way, a session the
 * server forgot) while the transport itself stays up. Transports that do not
 * need it ignore it.
 */
export interface ClientTransportHandlers extends TransportHandlers {
  readonly onRequestFailed: (id: RequestId, error: Error) => void
}

/** Default limit on one message (4 MiB), configurable per transport. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
