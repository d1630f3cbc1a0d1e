/**
 * JSON-RPC batches (2025-03-26): the answer to one batch, collected from its
 * requests' responses as they come.
 */
import type { JsonRpcBatchResponse, JsonRpcResponse, RequestId } from "../../protocol/jsonrpc.ts"

/**
 * The answer to one batch being put together: a slot per item that has (or will have) a
 * response, filled as they come; `onComplete` gets the filled ones once the batch was
 * fully received (`sealed`) and nothing is awaited any more.
 */
export class BatchCollector {
  private readonly slots: Array<JsonRpcResponse | undefined> = []
  private readonly slotOf = new Map<RequestId, number>()
  private awaited = 0
  private open = true
  private done = false
  onComplete: ((responses: JsonRpcBatchResponse) => void) | undefined
  /** A response known now (an invalid item). */
  add(response: JsonRpcResponse): void {
    this.slots.push(response)
  }
  /** A request whose response is awaited. */
  expect(id: RequestId): void {
    this.slotOf.set(id, this.slots.length)
    this.slots.push(undefined)
    this.awaited++
  }
  expects(id: RequestId): boolean {
    return this.slotOf.has(id)
  }
  /** The response for `id`, or undefined when it ended without one (cancelled). */
  answer(id: RequestId, response: JsonRpcResponse | undefined): void {
    const slot = this.slotOf.get(id)
    if (slot === undefined) return
    this.slotOf.delete(id)
    this.slots[slot] = response
    this.awaited--
    this.check()
  }
  /** Every item was handed to the session. */
  sealed(): void {
    this.open = false
    this.check()
  }
  drain(): ReadonlyArray<JsonRpcResponse> {
    return this.slots.filter((r): r is JsonRpcResponse => r !== undefined)
  }
  private check(): void {
    if (this.open || this.done || this.awaited > 0) return
    this.done = true
    this.onComplete?.(this.drain())
  }
}

