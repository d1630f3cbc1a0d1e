/**
 * The life of one modern-era (2026-07-28) client: no handshake and no session,
 * so only `open` → `closing` (drain, then release the wire) → `closed`.
 *
 * An actor tree: every request in flight runs as a spawned `outboundRequest` child
 * (id `request.<id>`, `requestChildId`), stopped once it is done, so one `inspect`
 * observer on the client actor sees the client and its requests. `inFlight` counts
 * them in context; `busy`/`idle` and the drain read it.
 *
 * Closing (2026-07-28 has no shutdown message; the client just stops): new requests are
 * refused by the runtime (the `open` tag is gone), in-flight ones may finish for
 * `drainMs` (from the `CLOSE` event; named delay `drainTimeout`), then `releaseWire`
 * cancels what is left and closes the wire; the wire's end (`WIRE_CLOSED`) is `closed`.
 *
 * Pure chart: the effects `releaseWire` (and the children's `sendCancelled`) are provided by
 * the runtime (`src/client/ModernClient.ts`); the context is plain data.
 */
import { assign, setup, spawnChild, stopChild } from "xstate"
import { type OutboundRequestInput, outboundRequestMachine, type OutboundRequestOutcome, requestChildId } from "./outboundRequest.ts"

/** How long `close()` lets in-flight requests finish when the event does not say. */
export const DEFAULT_MODERN_CLOSE_TIMEOUT_MS = 5_000

/** Per-client settings of the modern client chart. */
export interface ModernClientInput {
  /** Default drain of `CLOSE` without `drainMs`. Default 5 s. */
  readonly closeTimeoutMs?: number
}

/** The modern client's bookkeeping: requests in flight, the drain asked for, why it ended. */
export interface ModernClientContext {
  readonly inFlight: number
  readonly closeTimeoutMs: number
  /** The drain of the `CLOSE` in progress. */
  readonly drainMs: number
  readonly closeReason: string | undefined
  readonly expected: boolean
}

/**
 * Events the runtime sends:
 * - `REQUEST_SENT`: a request went out; its chart is spawned as a child;
 * - `CLOSE`: stop taking requests, drain for `drainMs`, then release the wire;
 * - `WIRE_CLOSED`: the wire ended (after `releaseWire`, or on its own).
 */
export type ModernClientEvent =
  | ({ readonly type: "REQUEST_SENT" } & OutboundRequestInput)
  | { readonly type: `xstate.done.actor.request.${string}`; readonly output: OutboundRequestOutcome; readonly actorId: string }
  | { readonly type: "CLOSE"; readonly drainMs?: number; readonly reason?: string }
  | { readonly type: "WIRE_CLOSED"; readonly expected: boolean; readonly reason: string }

/** How the client ended (the chart's output). */
export interface ModernClientOutput {
  readonly expected: boolean
  readonly reason: string
}

/**
 * The modern client chart: `open` (idle ⇄ busy) → `closing` (draining → releasing) → `closed`.
 *
 * @example
 * ```ts
 * import { initialTransition, transition } from "xstate"
 * import { modernClientMachine } from "mcp-actors/machines"
 *
 * const [open] = initialTransition(modernClientMachine, {})
 * const [busy] = transition(modernClientMachine, open, { type: "REQUEST_SENT", requestId: "m1", method: "tools/list" })
 * console.log(busy.value, Object.keys(busy.children))        // { open: "busy" } ["request.m1"]
 * const [closing, actions] = transition(modernClientMachine, busy, { type: "CLOSE", drainMs: 0 })
 * console.log(closing.value, actions.map((a) => a.type))     // { closing: "releasing" } [..., "releaseWire"]
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
    /** One in-flight request; the runtime provides its `sendCancelled`. */
    outboundRequest: outboundRequestMachine
  },
  actions: {
    /** Effect: cancel every request still in flight, end the subscriptions, close the wire. */
    releaseWire: () => {},
    spawnRequest: spawnChild("outboundRequest", {
      id: ({ event }) => event.type === "REQUEST_SENT" ? requestChildId(event.requestId) : "request.?",
      input: ({ event }) => {
        if (event.type !== "REQUEST_SENT") throw new Error("spawnRequest: not a REQUEST_SENT event")
        const { type: _, ...input } = event
        return input
      }
    }),
    releaseRequest: stopChild(({ event }) => (event as { readonly actorId: string }).actorId),
    countRequest: assign({ inFlight: ({ context }) => context.inFlight + 1 }),
    uncountRequest: assign({ inFlight: ({ context }) => Math.max(0, context.inFlight - 1) }),
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
    hasRequestsInFlight: ({ context }) => context.inFlight > 0,
    nothingInFlight: ({ context }) => context.inFlight === 0,
    noDrain: ({ context }) => context.drainMs <= 0
  },
  delays: {
    drainTimeout: ({ context }) => context.drainMs
  }
}).createMachine({
  id: "modernClient",
  context: ({ input }) => ({
    inFlight: 0,
    closeTimeoutMs: input?.closeTimeoutMs ?? DEFAULT_MODERN_CLOSE_TIMEOUT_MS,
    drainMs: 0,
    closeReason: undefined,
    expected: true
  }),
  initial: "open",
  on: {
    // Requests are children of the client in every live state (MRTR rounds and retries of a
    // call made while open may still go out while closing).
    REQUEST_SENT: { actions: ["spawnRequest", "countRequest"] },
    "xstate.done.actor.request.*": { actions: ["releaseRequest", "uncountRequest"] },
    WIRE_CLOSED: { target: ".closed", actions: "recordWireClosed" }
  },
  states: {
    open: {
      tags: ["open"],
      initial: "idle",
      on: { CLOSE: { target: "closing", actions: "recordClose" } },
      states: {
        idle: { always: { guard: "hasRequestsInFlight", target: "busy" } },
        busy: { always: { guard: "nothingInFlight", target: "idle" } }
      }
    },
    closing: {
      initial: "draining",
      states: {
        draining: {
          always: [
            { guard: "nothingInFlight", target: "releasing" },
            { guard: "noDrain", target: "releasing" }
          ],
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
