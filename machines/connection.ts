/**
 * One connection of a message transport (stdio, WebSocket, memory): the
 * channel beneath a server session. A child of the runtime's root (stdio,
 * memory) or of its listener (WebSocket); its child is the session's chart,
 * made on the session's first legacy message.
 *
 * - `open`: frames flow.
 * - `draining`: the peer will send nothing more (stdin EOF) but still reads;
 *   the session answers what is in flight, then ends.
 * - `closing`: one side has let go and the other is being released: the
 *   transport ended (the peer went away) and the session is finishing, or the
 *   session ended (its idle or handshake deadline, eviction) or the owner
 *   asked (`CLOSE`: server shutdown, the connection's scope closing) and the
 *   transport is being closed.
 * - `closed` (final): both the transport and the session are released.
 *   `endedBy` says who ended it: the `peer` (its socket or process went away,
 *   or its input ended), the `session`, or the `local` owner.
 *
 * The connection's Effect `Scope` holds the resources (transport, session,
 * timers); closing it sends what happened here, so the chart is the record
 * of every connection's end, whatever ended it.
 */
import { assign, setup } from "xstate"

/** Who ended a connection. */
export type ConnectionEndedBy = "peer" | "session" | "local"

/** What a connection is started with. */
export interface ConnectionInput {
  /** The transport (`stdio`, `ws`, `memory`). */
  readonly transport: string
}

/** What a connection records: who ended it, why, and which side is released. */
export interface ConnectionContext {
  readonly transport: string
  readonly endedBy: ConnectionEndedBy | undefined
  readonly reason: string | undefined
  /** False when the transport ended unexpectedly (a crash, a dropped socket). */
  readonly expected: boolean
  readonly transportClosed: boolean
  readonly sessionEnded: boolean
}

/** What the connection's shell reports: the peer's input ending, the session's end, a local close, the transport's end. */
export type ConnectionEvent =
  /** The peer's input ended (stdin EOF); replies may still be written. */
  | { readonly type: "INPUT_ENDED" }
  /** The session on this connection was released. */
  | { readonly type: "SESSION_ENDED"; readonly reason: string }
  /** The owner closes the connection (shutdown, scope closed, eviction). */
  | { readonly type: "CLOSE"; readonly reason: string }
  /** The transport has ended; its resources are released. */
  | { readonly type: "TRANSPORT_CLOSED"; readonly reason: string; readonly expected: boolean }

/** One message-transport connection: `open` → `draining` → `closing` → `closed`. */
export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
    input: {} as ConnectionInput
  },
  actions: {
    endedByPeer: assign({
      endedBy: ({ context }) => context.endedBy ?? "peer",
      reason: ({ context, event }) => context.reason ?? ("reason" in event ? event.reason : undefined)
    }),
    endedBySession: assign({
      endedBy: ({ context }) => context.endedBy ?? "session",
      reason: ({ context, event }) => context.reason ?? ("reason" in event ? event.reason : undefined)
    }),
    endedLocally: assign({
      endedBy: ({ context }) => context.endedBy ?? "local",
      reason: ({ context, event }) => context.reason ?? ("reason" in event ? event.reason : undefined)
    }),
    recordTransportClosed: assign({
      transportClosed: true,
      expected: ({ context, event }) => context.expected && (event.type === "TRANSPORT_CLOSED" ? event.expected : true)
    }),
    recordSessionEnded: assign({ sessionEnded: true })
  },
  guards: {
    bothReleased: ({ context }) => context.transportClosed && context.sessionEnded
  }
}).createMachine({
  id: "connection",
  context: ({ input }) => ({
    transport: input.transport,
    endedBy: undefined,
    reason: undefined,
    expected: true,
    transportClosed: false,
    sessionEnded: false
  }),
  initial: "open",
  states: {
    open: {
      on: {
        INPUT_ENDED: "draining",
        TRANSPORT_CLOSED: { target: "closing", actions: ["endedByPeer", "recordTransportClosed"] },
        SESSION_ENDED: { target: "closing", actions: ["endedBySession", "recordSessionEnded"] },
        CLOSE: { target: "closing", actions: "endedLocally" }
      }
    },
    draining: {
      on: {
        // The session ends because the peer's input did.
        TRANSPORT_CLOSED: { target: "closing", actions: ["endedByPeer", "recordTransportClosed"] },
        SESSION_ENDED: { target: "closing", actions: ["endedByPeer", "recordSessionEnded"] },
        CLOSE: { target: "closing", actions: "endedLocally" }
      }
    },
    closing: {
      always: { target: "closed", guard: "bothReleased" },
      on: {
        TRANSPORT_CLOSED: { actions: "recordTransportClosed" },
        SESSION_ENDED: { actions: "recordSessionEnded" }
      }
    },
    closed: { type: "final" }
  }
})

/** The type of {@link connectionMachine}. */
export type ConnectionMachine = typeof connectionMachine
