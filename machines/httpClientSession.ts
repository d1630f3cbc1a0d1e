/**
 * A legacy client session over Streamable HTTP across the server losing it
 * (2025-11-25/basic/transports.mdx:L192-L220: on a 404 to a request carrying
 * `Mcp-Session-Id` the client "MUST start a new session by sending a new
 * InitializeRequest without a session ID attached").
 *
 * One pass of the `legacyClientSession` chart cannot go back to
 * `initializing`, and one `httpClientConnection` ends when its session is lost
 * (`sessionLost`), so re-initializing means a new *generation*: a new session
 * on a new connection. This chart owns the generations:
 *
 * - `opening`: the shell opens the first generation (`openGeneration`):
 *   `GENERATION_OPENED` → `live`; `GENERATION_FAILED` → `ended` (connect fails).
 * - `live`: generation `generation` serves calls. A call that succeeds resets
 *   the count of re-initializations in a row (`CALL_SUCCEEDED`).
 * - `SESSION_LOST` of the current generation (stale reports of older ones are
 *   ignored) → `reinitializing` when re-initialization is on and fewer than
 *   `maxConsecutive` happened with no successful call since; else `ended`
 *   ("giving up": a server that loses every session at once is not looped on).
 * - `reinitializing`: the shell opens generation `generation + 1`
 *   (`openGeneration`). Every other loss report joins it (single flight).
 *   `GENERATION_OPENED` → `live` (or `closing` if the owner asked to close
 *   meanwhile); `GENERATION_FAILED` → `ended`.
 * - `GENERATION_ENDED` (the current generation ended without a loss: the
 *   server went away, a keepalive failure) → `ended` with its reason.
 * - `CLOSE` → `closing` (the shell closes the current generation,
 *   `closeGeneration`) → `CLOSED` (with the generation's end) → `closed`.
 *
 * The output is the session's end: `{ expected, reason }`.
 */
import { assign, setup } from "xstate"

/** What the session is started with. */
export interface HttpClientSessionInput {
  /** Re-initialize when the server loses the session. Default true. */
  readonly reinitialize?: boolean
  /** Re-initializations in a row with no successful call in between before giving up. Default 1. */
  readonly maxConsecutive?: number
}

/** What the chart records (serializable data only). */
export interface HttpClientSessionContext {
  readonly reinitialize: boolean
  readonly maxConsecutive: number
  /** 1 for the first session, +1 per re-initialization. */
  readonly generation: number
  /** Re-initializations since the last successful call. */
  readonly consecutive: number
  /** Why the last re-initialization started. */
  readonly lostReason: string | undefined
  readonly closeRequested: boolean
  readonly end: { readonly expected: boolean; readonly reason: string } | undefined
}

/** What the shell reports. `generation` says which generation a report is about. */
export type HttpClientSessionEvent =
  | { readonly type: "SESSION_LOST"; readonly generation: number; readonly reason: string }
  | { readonly type: "GENERATION_ENDED"; readonly generation: number; readonly expected: boolean; readonly reason: string }
  | { readonly type: "GENERATION_OPENED" }
  | { readonly type: "GENERATION_FAILED"; readonly reason: string }
  | { readonly type: "CALL_SUCCEEDED" }
  | { readonly type: "CLOSE" }
  | { readonly type: "CLOSED"; readonly expected: boolean; readonly reason: string }

const aboutCurrent = ({ context, event }: { context: HttpClientSessionContext; event: HttpClientSessionEvent }) =>
  "generation" in event && event.generation === context.generation

/** The generations of one HTTP client session: `opening` → `live` ⇄ `reinitializing`, then `ended` or `closing` → `closed`. */
export const httpClientSessionMachine = setup({
  types: {
    context: {} as HttpClientSessionContext,
    events: {} as HttpClientSessionEvent,
    input: {} as HttpClientSessionInput,
    output: {} as { readonly expected: boolean; readonly reason: string }
  },
  actions: {
    /** Open generation `generation`: `GENERATION_OPENED` or `GENERATION_FAILED` follows. */
    openGeneration: () => {},
    /** Close the current generation (DELETE, sockets): `CLOSED` follows. */
    closeGeneration: () => {},
    countReinitialization: assign({
      generation: ({ context }) => context.generation + 1,
      consecutive: ({ context }) => context.consecutive + 1,
      lostReason: ({ event }) => (event.type === "SESSION_LOST" ? event.reason : undefined)
    }),
    resetConsecutive: assign({ consecutive: 0 }),
    requestClose: assign({ closeRequested: true }),
    recordGaveUp: assign({
      end: ({ context }) => ({
        expected: false,
        reason: !context.reinitialize
          ? "the server lost the session (re-initialization is off)"
          : `the server lost the session again before any call succeeded on the new one (${context.maxConsecutive} re-initialization${
            context.maxConsecutive === 1 ? "" : "s"
          } in a row): giving up`
      })
    }),
    recordOpenFailed: assign({
      end: ({ event }) => ({ expected: false, reason: event.type === "GENERATION_FAILED" ? event.reason : "could not connect" })
    }),
    recordReinitializeFailed: assign({
      end: ({ event }) => ({
        expected: false,
        reason: `the server lost the session and re-initializing failed: ${event.type === "GENERATION_FAILED" ? event.reason : "unknown"}`
      })
    }),
    recordGenerationEnd: assign({
      end: ({ event }) => event.type === "GENERATION_ENDED" ? { expected: event.expected, reason: event.reason } : undefined
    }),
    recordClosed: assign({
      end: ({ context, event }) => context.end ?? (event.type === "CLOSED" ? { expected: event.expected, reason: event.reason } : undefined)
    })
  },
  guards: {
    aboutCurrent,
    mayReinitialize: ({ context, event }) => aboutCurrent({ context, event }) && context.reinitialize && context.consecutive < context.maxConsecutive,
    closeRequested: ({ context }) => context.closeRequested
  }
}).createMachine({
  id: "httpClientSession",
  context: ({ input }) => ({
    reinitialize: input.reinitialize ?? true,
    maxConsecutive: input.maxConsecutive ?? 1,
    generation: 1,
    consecutive: 0,
    lostReason: undefined,
    closeRequested: false,
    end: undefined
  }),
  initial: "opening",
  states: {
    opening: {
      entry: "openGeneration",
      on: {
        GENERATION_OPENED: [
          { guard: "closeRequested", target: "closing" },
          { target: "live" }
        ],
        GENERATION_FAILED: { target: "ended", actions: "recordOpenFailed" },
        CLOSE: { actions: "requestClose" }
      }
    },
    live: {
      on: {
        CALL_SUCCEEDED: { actions: "resetConsecutive" },
        SESSION_LOST: [
          { guard: "mayReinitialize", target: "reinitializing", actions: "countReinitialization" },
          { guard: "aboutCurrent", target: "ended", actions: "recordGaveUp" }
        ],
        GENERATION_ENDED: { guard: "aboutCurrent", target: "ended", actions: "recordGenerationEnd" },
        CLOSE: "closing"
      }
    },
    reinitializing: {
      entry: "openGeneration",
      on: {
        GENERATION_OPENED: [
          { guard: "closeRequested", target: "closing" },
          { target: "live" }
        ],
        GENERATION_FAILED: { target: "ended", actions: "recordReinitializeFailed" },
        // Closing waits for the new generation, then closes it.
        CLOSE: { actions: "requestClose" }
      }
    },
    closing: {
      entry: "closeGeneration",
      on: { CLOSED: { target: "closed", actions: "recordClosed" } }
    },
    ended: { type: "final" },
    closed: { type: "final" }
  },
  output: ({ context }) => context.end ?? { expected: true, reason: "closed" }
})

/** The type of {@link httpClientSessionMachine}. */
export type HttpClientSessionMachine = typeof httpClientSessionMachine
