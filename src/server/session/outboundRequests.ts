/**
 * Server→client requests (sampling, elicitation, roots, ping) of one legacy
 * session: ids, deadlines, cancellation by signal, and matching the client's
 * responses. Made on a session's first one: most sessions never send any.
 */
import { ErrorCode, McpError } from "../../protocol/errors.ts"
import { makeIdAllocator } from "../../protocol/ids.ts"
import { type JsonRpcMessage, type JsonRpcResponse, notification, type Params, type RequestId, request as makeRequest } from "../../protocol/jsonrpc.ts"
import type { Result } from "../dispatch.ts"
import type { Clock } from "../../protocol/clock.ts"
import { ClientResponseTimeout } from "../../protocol/serverRequestErrors.ts"
import { ClearingMap } from "../../protocol/ClearingMap.ts"

interface PendingOutbound {
  readonly resolve: (r: Result) => void
  readonly reject: (e: unknown) => void
  readonly timer: unknown
  readonly cleanup: () => void
}

// Server→client request errors: one family with the client's (src/protocol/serverRequestErrors.ts).
export { CapabilityError, ClientCapabilityNotDeclared, ClientResponseTimeout, RequestTimeoutError } from "../../protocol/serverRequestErrors.ts"

/** The server→client requests of one session awaiting the client's answer. */
export class OutboundRequests {
  /**
   * A ClearingMap: a long-lived session with one request per call (the progress barrier's ping after every
   * call that reported progress) kept every pending entry, with the caller's promise and what it closes
   * over, reachable for the young GC through a `Map`'s dropped hash tables (docs/performance.md, "Legacy
   * calls with progress and the young GC"). Keyed by the id's number (ids are `s<n>`): a dropped index table
   * then keeps no id string either.
   */
  private readonly pending = new ClearingMap<number, PendingOutbound>()
  private readonly ids = makeIdAllocator()
  private readonly send: (message: JsonRpcMessage, related: RequestId | undefined) => void
  constructor(send: (message: JsonRpcMessage, related: RequestId | undefined) => void) {
    this.send = send
  }

  /** Requests still awaiting an answer. */
  get size(): number {
    return this.pending.size
  }

  /**
   * Send `method` to the client; settles with its answer, or fails on `timeoutMs`
   * (a `notifications/cancelled` is sent) or when `signal` aborts.
   */
  request(
    method: string,
    params: Params | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    clock: Clock,
    related: RequestId | undefined
  ): Promise<Result> {
    const n = this.ids.next()
    const id = `s${n}`
    return new Promise<Result>((resolve, reject) => {
      const cancel = (reason: string) => {
        if (!this.pending.delete(n)) return
        clock.clearTimeout(timer)
        signal?.removeEventListener("abort", onAbort)
        this.send(notification("notifications/cancelled", { requestId: id, reason }), related)
      }
      const onAbort = () => {
        cancel("aborted")
        reject(signal?.reason ?? new Error("aborted"))
      }
      const timer = clock.setTimeout(() => {
        cancel("timeout")
        reject(ClientResponseTimeout.of(method, timeoutMs))
      }, timeoutMs)
      signal?.addEventListener("abort", onAbort, { once: true })
      this.pending.set(n, {
        resolve,
        reject,
        timer,
        cleanup: () => {
          clock.clearTimeout(timer)
          signal?.removeEventListener("abort", onAbort)
        }
      })
      this.send(makeRequest(id, method, params), related)
    })
  }

  /** The client's response to one of ours; late or unknown ones are dropped (cancellation.mdx:L45). */
  answer(r: JsonRpcResponse): void {
    if (r.id === undefined || r.id === null) return
    const n = idNumber(r.id)
    const p = n === undefined ? undefined : this.pending.get(n)
    if (!p) return
    this.pending.delete(n!)
    p.cleanup()
    if ("result" in r) p.resolve(r.result)
    else p.reject(new McpError(r.error.code, r.error.message, r.error.data))
  }

  /** The session ended: every request still waiting fails. */
  rejectAll(): void {
    for (const [n, p] of this.pending) {
      this.pending.delete(n)
      p.cleanup()
      p.reject(new McpError(ErrorCode.ConnectionClosed, "Session closed before the client answered"))
    }
  }
}

/** The number of one of our ids (`s<n>`, exactly as minted), or undefined for any other id. */
const idNumber = (id: RequestId): number | undefined => {
  if (typeof id !== "string" || id.charCodeAt(0) !== 115 /* s */) return undefined
  const n = Number(id.slice(1))
  return Number.isSafeInteger(n) && n > 0 && id === `s${n}` ? n : undefined
}
