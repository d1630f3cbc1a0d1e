/**
 * The life of one modern-era (2026-07-28) client: no handshake and no session,
 * so only `open` → `closing` (drain, then release the wire) → `closed`.
 *
 * An actor tree: the client's requests in flight run in its invoked child `requests`
 * (`machines/outboundRequests.ts`: the `outboundRequest` chart once per request, over a
 * table), alive from start until the client ends, so one `inspect` observer on the client
 * actor sees the client and its requests. The runtime sends a request's events to
 * `requests` directly: a request costs no step of this chart (no child per request, no
 * copy of the children). Whether anything is in flight is the child's `idle`/`busy`.
 *
 * Closing (2026-07-28 has no shutdown message; the client just stops): new requests are
 * refused by the runtime (the `open` tag is gone), in-flight ones may finish for
 * `drainMs` (from the `CLOSE` event; named delay `drainTimeout`) or until the runtime
 * reports the `requests` child idle (`REQUESTS_IDLE`), then `releaseWire` cancels what is
 * left and closes the wire; the wire's end (`WIRE_CLOSED`) is `closed`.
 *
 * Pure chart: the effects `releaseWire` (and the request chart's `sendCancelled`, on the
 * `requests` logic) are provided by the runtime (`src/client/ModernClient.ts`); the context is plain data.
 */
import { assign, setup } from "xstate"
import { outboundRequestsLogic } from "./outboundRequests.ts"

/** How long `close()` lets in-flight requests finish when the event does not say. */
export const DEFAULT_MODERN_CLOSE_TIMEOUT_MS = 5_000

/** Per-client settings of the modern client chart. */
export interface ModernClientInput {
  /** Default drain of `CLOSE` without `drainMs`. Default 5 s. */
  readonly closeTimeoutMs?: number
}

/** The modern client's bookkeeping: the drain asked for, why it ended. */
export interface ModernClientContext {
  readonly closeTimeoutMs: number
  /** The drain of the `CLOSE` in progress. */
  readonly drainMs: number
  readonly closeReason: string | undefined
  readonly expected: boolean
}

/**
 * Events the runtime sends (a request's own events go to the `requests` child):
 * - `CLOSE`: stop taking requests, drain for `drainMs`, then release the wire;
 * - `REQUESTS_IDLE`: while closing, the `requests` child has nothing in flight (sent after
 *   `CLOSE` when it is idle already, and when its last request ends);
 * - `WIRE_CLOSED`: the wire ended (after `releaseWire`, or on its own).
 */
export type ModernClientEvent =
  | { readonly type: "CLOSE"; readonly drainMs?: number; readonly reason?: string }
  | { readonly type: "REQUESTS_IDLE" }
  | { readonly type: "WIRE_CLOSED"; readonly expected: boolean; readonly reason: string }

/** How the client ended (the chart's output). */
export interface ModernClientOutput {
  readonly expected: boolean
  readonly reason: string
}

/**
 * The modern client chart: `open` → `closing` (draining → releasing) → `closed`; the
 * `requests` child throughout.
 *
 * @example
 * ```ts
 * import { initialTransition, transition } from "xstate"
 * import { modernClientMachine } from "mcp-actors/machines"
 *
 * const [open] = initialTransition(modernClientMachine, {})
 * console.log(open.value, Object.keys(open.children))        // "open" ["requests"]
 * const [draining] = transition(modernClientMachine, open, { type: "CLOSE", drainMs: 1_000 })
 * const [releasing, actions] = transition(modernClientMachine, draining, { type: "REQUESTS_IDLE" })
 * console.log(releasing.value, actions.map((a) => a.type))   // { closing: "releasing" } ["xstate.cancel", "releaseWire"]
 * ```
 */
export const modernClientMachine = setup({
  types: {
    context: {} as ModernClientContext,
    events: {} as ModernClientEvent,
    input: {} as ModernClientInput,
    output: {} as ModernClientOutput,
    tags: {} as "open"
  },
  actors: {
    /** The requests in flight, each running the `outboundRequest` chart; the runtime provides its `sendCancelled`. */
    requests: outboundRequestsLogic()
  },
  actions: {
    /** Effect: cancel every request still in flight, end the subscriptions, close the wire. */
    releaseWire: () => {},
    recordClose: assign(({ context, event }) =>
      event.type === "CLOSE"
        ? { drainMs: event.drainMs ?? context.closeTimeoutMs, closeReason: event.reason ?? "client closed", expected: true }
        : {}
    ),
    recordWireClosed: assign(({ context, event }) =>
      event.type === "WIRE_CLOSED"
        ? { closeReason: context.closeReason ?? event.reason, expected: context.closeReason !== undefined || event.expected }
        : {}
    )
  },
  guards: {
    noDrain: ({ context }) => context.drainMs <= 0
  },
  delays: {
    drainTimeout: ({ context }) => context.drainMs
  }
}).createMachine({
  id: "modernClient",
  context: ({ input }) => ({
    closeTimeoutMs: input?.closeTimeoutMs ?? DEFAULT_MODERN_CLOSE_TIMEOUT_MS,
    drainMs: 0,
    closeReason: undefined,
    expected: true
  }),
  initial: "open",
  // The requests in flight, in every live state (MRTR rounds and retries of a call made
  // while open may still go out while closing).
  invoke: { id: "requests", src: "requests" },
  on: {
    WIRE_CLOSED: { target: ".closed", actions: "recordWireClosed" }
  },
  states: {
    open: {
      tags: ["open"],
      on: { CLOSE: { target: "closing", actions: "recordClose" } }
    },
    closing: {
      initial: "draining",
      states: {
        draining: {
          always: { guard: "noDrain", target: "releasing" },
          on: { REQUESTS_IDLE: "releasing" },
          after: { drainTimeout: { target: "releasing" } }
        },
        releasing: { entry: "releaseWire" }
      }
    },
    closed: { type: "final" }
  },
  output: ({ context }) => ({ expected: context.expected, reason: context.closeReason ?? "closed" })
})

/** The modern client chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type ModernClientMachine = typeof modernClientMachine
