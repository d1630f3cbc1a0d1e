/**
 * An in-memory transport pair for unit tests: what one side sends, the other
 * receives as a text frame (the encoded JSON), delivered asynchronously
 * (`queueMicrotask`) and in order. Frames sent before the peer called
 * `start()` wait for it.
 *
 * Closing either side ends both: each side's `onClose` is called once with
 * `expected: true` (`reason: "closed"` on the side that closed, `"peer
 * closed"` on the other), after every frame sent before the close.
 */
import { encode, type JsonRpcBatchResponse, type JsonRpcMessage } from "../protocol/jsonrpc.ts"
import { DEFAULT_MAX_MESSAGE_BYTES, type Transport, type TransportClosed, type TransportHandlers } from "./Transport.ts"

export interface MemoryTransportOptions {
  /** Frames longer than this (UTF-8 bytes) reach the receiver as `onOversized`. */
  readonly maxMessageBytes?: number
}

export interface MemoryTransport extends Transport {
  readonly kind: "memory"
  /** True once this side has ended (closed by either side). */
  readonly closed: boolean
}

type Item = { readonly frame: string } | { readonly closed: TransportClosed }

interface Side {
  handlers: TransportHandlers | undefined
  /** Items that arrived before `start()`. */
  backlog: Array<Item>
  /** No more frames are accepted from the peer. */
  ending: boolean
  /** onClose was called. */
  ended: boolean
  resolveEnded: () => void
  readonly endedPromise: Promise<void>
}

const makeSide = (): Side => {
  let resolveEnded!: () => void
  const endedPromise = new Promise<void>((resolve) => {
    resolveEnded = resolve
  })
  return { handlers: undefined, backlog: [], ending: false, ended: false, resolveEnded, endedPromise }
}

/**
 * Two connected in-memory transports: serve one, connect a client to the other. For tests
 * of handlers and client code without processes or sockets.
 */
export const makeMemoryTransportPair = (options: MemoryTransportOptions = {}): [MemoryTransport, MemoryTransport] => {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const a = makeSide()
  const b = makeSide()

  const handle = (side: Side, item: Item): void => {
    const h = side.handlers
    if (h === undefined) {
      side.backlog.push(item)
      return
    }
    if (side.ended) return
    if ("frame" in item) {
      const frame = item.frame
      if (frame.length > maxMessageBytes / 3 && Buffer.byteLength(frame) > maxMessageBytes) {
        h.onOversized(Buffer.byteLength(frame))
      } else {
        h.onFrame(frame)
      }
    } else {
      side.ended = true
      h.onClose(item.closed)
      side.resolveEnded()
    }
  }

  const deliver = (side: Side, item: Item): void => {
    queueMicrotask(() => handle(side, item))
  }

  const make = (self: Side, peer: Side): MemoryTransport => {
    let closePromise: Promise<void> | undefined = undefined
    return {
      kind: "memory",
      authoritativeLiveness: true,
      get closed() {
        return self.ended
      },
      start(handlers) {
        if (self.handlers !== undefined) throw new Error("memory transport: start() called twice")
        self.handlers = handlers
        const backlog = self.backlog
        self.backlog = []
        for (const item of backlog) handle(self, item)
      },
      send(message: JsonRpcMessage | JsonRpcBatchResponse) {
        if (self.ending || peer.ending) return
        deliver(peer, { frame: encode(message) })
      },
      close() {
        if (closePromise === undefined) {
          if (!self.ending) {
            self.ending = true
            deliver(self, { closed: { expected: true, reason: "closed" } })
          }
          if (!peer.ending) {
            peer.ending = true
            deliver(peer, { closed: { expected: true, reason: "peer closed" } })
          }
          // Resolves at once when this side was never started (nothing to release).
          closePromise = self.handlers === undefined ? Promise.resolve() : self.endedPromise
        }
        return closePromise
      }
    }
  }

  return [make(a, b), make(b, a)]
}
