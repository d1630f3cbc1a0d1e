/**
 * The root of a runtime's actor tree. Its children are the listeners (an HTTP
 * or WebSocket endpoint) and the connections served on their own (a stdio
 * process, an in-memory pair); listeners' children are connections (WebSocket)
 * or sessions (Streamable HTTP: a session has no connection of its own), and a
 * connection's child is its session. One `inspect` observer on this actor
 * sees the whole tree, since every node joins the root's actor system.
 *
 * The chart owns the runtime's own lifecycle only: `running` until `SHUTDOWN`,
 * `stopping` while the runtime's scope closes its children, `stopped` once the
 * scope reports them all released (`STOPPED`). Resources (sockets, timers,
 * actors) belong to the Effect scopes of the nodes, not to this chart.
 */
import { assign, setup } from "xstate"

/** What the root records: why the runtime stopped. */
export interface RuntimeContext {
  /** Why the runtime stopped (the first `SHUTDOWN`'s reason). */
  readonly reason: string | undefined
}

/** `SHUTDOWN` (drain and close everything), then `STOPPED` once the runtime's scope is closed. */
export type RuntimeEvent =
  | { readonly type: "SHUTDOWN"; readonly reason: string }
  | { readonly type: "STOPPED" }

/** The root of a runtime's actor tree: `running` → `stopping` → `stopped`. */
export const runtimeMachine = setup({
  types: {
    context: {} as RuntimeContext,
    events: {} as RuntimeEvent
  },
  actions: {
    recordReason: assign({
      reason: ({ context, event }) => context.reason ?? (event.type === "SHUTDOWN" ? event.reason : undefined)
    })
  }
}).createMachine({
  id: "runtime",
  context: { reason: undefined },
  initial: "running",
  states: {
    running: {
      on: {
        SHUTDOWN: { target: "stopping", actions: "recordReason" },
        STOPPED: { target: "stopped" }
      }
    },
    stopping: {
      on: { STOPPED: "stopped" }
    },
    stopped: { type: "final" }
  }
})

/** The type of {@link runtimeMachine}. */
export type RuntimeMachine = typeof runtimeMachine
