/**
 * One listening endpoint of a runtime (the Streamable HTTP handler, the
 * WebSocket server): a child of the runtime's root, parent of the connections
 * (WebSocket) or sessions (Streamable HTTP) it accepts.
 *
 * `listening` accepts; `CLOSE` (the server's `close()`, or its runtime
 * shutting down) stops accepting and drains: `closing` lasts while the
 * listener's scope closes its connections; `CLOSED` once they are all
 * released (sockets, timers, actors). New connections are refused from
 * `closing` on: the shell asks `acceptsConnections` before opening one.
 */
import { assign, setup } from "xstate"

/** What a listener serves (shown by the inspector). */
export type ListenerKind = "http" | "ws"

/** What a listener is started with. */
export interface ListenerInput {
  readonly kind: ListenerKind
  /** Where it listens (a URL), when known. */
  readonly address?: string
}

/** What a listener records: its kind, address and why it closed. */
export interface ListenerContext {
  readonly kind: ListenerKind
  readonly address: string | undefined
  readonly reason: string | undefined
}

/** `CLOSE` (stop accepting, drain), then `CLOSED` once every connection is released. */
export type ListenerEvent =
  | { readonly type: "CLOSE"; readonly reason: string }
  | { readonly type: "CLOSED" }

/** One listening endpoint: `listening` → `closing` → `closed`. */
export const listenerMachine = setup({
  types: {
    context: {} as ListenerContext,
    events: {} as ListenerEvent,
    input: {} as ListenerInput
  },
  actions: {
    recordReason: assign({
      reason: ({ context, event }) => context.reason ?? (event.type === "CLOSE" ? event.reason : undefined)
    })
  }
}).createMachine({
  id: "listener",
  context: ({ input }) => ({ kind: input.kind, address: input.address, reason: undefined }),
  initial: "listening",
  states: {
    listening: {
      on: {
        CLOSE: { target: "closing", actions: "recordReason" },
        // Everything was released before anyone asked (a failed start).
        CLOSED: "closed"
      }
    },
    closing: {
      on: { CLOSED: "closed" }
    },
    closed: { type: "final" }
  }
})

/** True while the listener accepts new connections. */
export const acceptsConnections = (state: { readonly value: unknown }): boolean => state.value === "listening"

/** The type of {@link listenerMachine}. */
export type ListenerMachine = typeof listenerMachine
