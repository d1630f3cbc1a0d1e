/**
 * Test helpers for the client tests (modern and dual-era): record what a
 * client writes on its transport, put a scripted filter in front of a server,
 * and let the in-memory transport deliver (it delivers on microtasks).
 */
import { decodeText, type JsonRpcMessage, type JsonRpcRequest } from "../../src/protocol/jsonrpc.ts"
import { META_PROTOCOL_VERSION } from "../../src/protocol/modern.ts"
import type { Transport, TransportHandlers } from "../../src/transports/Transport.ts"

/** Let queued microtasks and immediates run. */
export const flush = async (rounds = 4): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Settle state of a promise without awaiting it. */
export const track = <A>(promise: Promise<A>) => {
  const state: { settled: boolean; value?: A; error?: unknown } = { settled: false }
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error) => Object.assign(state, { settled: true, error })
  )
  return state
}

export interface TappedTransport extends Transport {
  /** Every message the client sent, in order. */
  readonly sent: Array<JsonRpcMessage>
  /** Requests sent with this method. */
  requests(method: string): Array<JsonRpcRequest>
  /** Request and notification methods sent, in order. */
  methods(): Array<string>
  /** How many times `start` was called on this transport (must stay 1). */
  readonly starts: () => number
}

/** Wrap the client's side of a transport, recording what the client sends. */
export const tap = (inner: Transport): TappedTransport => {
  const sent: Array<JsonRpcMessage> = []
  let starts = 0
  return {
    kind: inner.kind,
    authoritativeLiveness: inner.authoritativeLiveness,
    sent,
    starts: () => starts,
    requests: (method) => sent.filter((m): m is JsonRpcRequest => "method" in m && "id" in m && m.method === method),
    methods: () => sent.filter((m) => "method" in m).map((m) => (m as JsonRpcRequest).method),
    start(h: TransportHandlers) {
      starts++
      inner.start(h)
    },
    send(message: JsonRpcMessage) {
      sent.push(message)
      inner.send(message)
    },
    close: () => inner.close()
  }
}

/** What a filter may do with a message from the client: answer it itself (and return true) or let it through. */
export type Filter = (message: JsonRpcMessage, reply: (m: JsonRpcMessage) => void) => boolean

/**
 * The server's side of a transport with `filter` in front: messages it handles
 * never reach the server (to script a legacy-only or modern-only server on top
 * of our dual-era one).
 */
export const filtered = (inner: Transport, filter: Filter): Transport => ({
  kind: inner.kind,
  authoritativeLiveness: inner.authoritativeLiveness,
  start(h) {
    inner.start({
      ...h,
      onFrame: (text) => {
        const d = decodeText(text)
        if (d._tag === "Message" && filter(d.message, (m) => inner.send(m))) return
        h.onFrame(text)
      }
    })
  },
  send: (m) => inner.send(m),
  close: () => inner.close()
})

/** Whether a message is a modern request (carries the `_meta` protocol version). */
export const isModernRequest = (m: JsonRpcMessage): m is JsonRpcRequest =>
  "method" in m && "id" in m && m.params?._meta !== undefined && META_PROTOCOL_VERSION in (m.params._meta as object)

/** The `_meta` protocol version of a request. */
export const versionOf = (m: JsonRpcRequest): unknown => (m.params?._meta as Record<string, unknown> | undefined)?.[META_PROTOCOL_VERSION]
