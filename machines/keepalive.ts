/**
 * Keepalive: periodic `ping` with hysteresis, as its own machine. The client session
 * invokes it as a child actor of its `operating` state (`machines/legacyClientSession.ts`):
 * the session forwards `PONG`/`PING_FAILED`/`PING_UNSUPPORTED`/`PEER_ACTIVITY` to it and
 * reacts to its final state (`dead`) through the invoke's `onDone`.
 *
 * Spec (2025-11-25/basic/utilities/ping.mdx):
 * - "Implementations SHOULD periodically issue pings to detect connection health";
 *   "The frequency of pings SHOULD be configurable"; "Excessive pinging SHOULD be
 *   avoided" (L57-L60) → named delays `pingInterval`/`pingTimeout`, overridable per
 *   instance, and the interval restarts on any inbound traffic.
 * - With no response "within a reasonable timeout period, the sender MAY: Consider
 *   the connection stale; Terminate the connection" (L39); "Timeouts SHOULD be treated
 *   as connection failures"; "Multiple failed pings MAY trigger connection reset";
 *   failures "SHOULD be logged" (L64-L66) → a timeout is a miss (action `pingMissed`,
 *   the runtime logs it), and only `maxMisses` consecutive misses reach `dead`.
 *
 * Pure chart: the runtime supplies `sendPing`/`pingMissed` through `.provide()` and
 * feeds back the ping's outcome as `PONG`, `PING_FAILED` or `PING_UNSUPPORTED`.
 *
 * Proof of life: any inbound message from the peer (`PEER_ACTIVITY`, sent by the
 * runtime for every decoded frame, including responses and notifications) resets
 * `misses` to 0 and restarts the interval; a peer that is talking is alive, and
 * pinging it as well would be the "excessive pinging" L60 warns against. While a
 * ping is outstanding, activity counts as its answer (a late `PONG` is harmless).
 */
import { assign, setup } from "xstate"

/** Quiet time before a ping when the input does not say: rare enough not to be "excessive pinging". */
export const DEFAULT_PING_INTERVAL_MS = 30_000
/** How long a ping may go unanswered, when the input does not say. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000
/** Consecutive misses that declare the peer dead, when the input does not say: one lost ping is not a dead peer. */
export const DEFAULT_MAX_MISSES = 3

/** Per-instance settings of the keepalive (also part of the client session's input). */
export interface KeepaliveInput {
  /**
   * False when the transport gives authoritative liveness (a child process exit,
   * a socket close: `Transport.authoritativeLiveness`): the region then sits in
   * `disabled` and never pings. Default true.
   */
  readonly keepalive?: boolean
  /** Consecutive misses (timeouts or failed pings) that declare the peer dead. Default 3. */
  readonly maxMisses?: number
  /** Quiet time before the next ping. Default 30 s. */
  readonly pingIntervalMs?: number
  /** How long one ping may stay unanswered before it counts as a miss. Default 10 s. */
  readonly pingTimeoutMs?: number
}

/** The keepalive's settings with defaults applied (what the client session passes as the child's input). */
export interface KeepaliveSettings {
  readonly keepalive: boolean
  readonly maxMisses: number
  readonly pingIntervalMs: number
  readonly pingTimeoutMs: number
}

/** Settings from input, defaults applied. */
export const keepaliveSettingsFrom = (input: KeepaliveInput | undefined): KeepaliveSettings => ({
  keepalive: input?.keepalive ?? true,
  maxMisses: Math.max(1, input?.maxMisses ?? DEFAULT_MAX_MISSES),
  pingIntervalMs: input?.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
  pingTimeoutMs: input?.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS
})

/** What the keepalive chart remembers. */
export interface KeepaliveContext {
  readonly keepaliveEnabled: boolean
  /** Consecutive misses so far; a pong or any peer activity resets it to 0. */
  readonly misses: number
  readonly maxMisses: number
  readonly pingIntervalMs: number
  readonly pingTimeoutMs: number
}

/**
 * Events the keepalive reacts to:
 * - `PONG`: the ping got its empty result;
 * - `PING_FAILED`: the ping got an error other than -32601, or could not be sent (a miss);
 * - `PING_UNSUPPORTED`: the peer answered ping with -32601 Method not found; latch, never ping again;
 * - `PEER_ACTIVITY`: any inbound message from the peer (proof of life).
 */
export type KeepaliveEvent =
  | { readonly type: "PONG" }
  | { readonly type: "PING_FAILED"; readonly error?: unknown }
  | { readonly type: "PING_UNSUPPORTED" }
  | { readonly type: "PEER_ACTIVITY" }

/** Why a standalone keepalive ended: the peer missed `maxMisses` pings in a row. */
export interface KeepaliveOutput {
  readonly _tag: "PeerUnresponsive"
  readonly reason: "peer unresponsive"
  readonly misses: number
}

/** Build the keepalive context slice from input, applying defaults. */
export const keepaliveContextFrom = (input: KeepaliveInput | undefined): KeepaliveContext => ({
  keepaliveEnabled: input?.keepalive ?? true,
  misses: 0,
  maxMisses: Math.max(1, input?.maxMisses ?? DEFAULT_MAX_MISSES),
  pingIntervalMs: input?.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
  pingTimeoutMs: input?.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS
})

/** True when the miss being recorded now is the `maxMisses`-th in a row. */
export const isFinalMiss = (context: KeepaliveContext): boolean => context.misses + 1 >= context.maxMisses

/**
 * The keepalive's states. `dead` is the only final state: the session invoking it
 * reacts with the invoke's `onDone`. `unsupported` and `disabled` are terminal but
 * not final, so they never end the session.
 *
 * Names used — actions: `sendPing`, `pingMissed`, `resetMisses`, `recordMiss`;
 * guards: `isKeepaliveDisabled`, `isFinalMiss`; delays: `pingInterval`, `pingTimeout`.
 */
export const keepaliveStates = {
  initial: "starting",
  states: {
    /** Transient: pick `disabled` or start the ping cycle. */
    starting: {
      always: [
        { guard: "isKeepaliveDisabled", target: "disabled" },
        { target: "idle" }
      ]
    },
    /** Quiet period before the next ping. */
    idle: {
      // 2025-11-25/basic/utilities/ping.mdx:L57 — SHOULD periodically issue pings; interval configurable (L59).
      after: { pingInterval: { target: "awaitingPong" } },
      on: {
        // Proof of life: restart the interval (2025-11-25/basic/utilities/ping.mdx:L60, avoid excessive pinging).
        PEER_ACTIVITY: { target: "idle", reenter: true, actions: "resetMisses" },
        // A late answer to an earlier ping: still proof of life.
        PONG: { target: "idle", reenter: true, actions: "resetMisses" },
        // -32601 may arrive late too; the latch holds whenever it arrives.
        PING_UNSUPPORTED: { target: "unsupported" }
        // A late PING_FAILED is not handled here: that ping was already settled
        // (answered by activity, or counted as a miss when it timed out).
      }
    },
    /** A ping is outstanding. */
    awaitingPong: {
      entry: "sendPing",
      after: {
        // 2025-11-25/basic/utilities/ping.mdx:L64 — "Timeouts SHOULD be treated as connection failures";
        // L65 — "Multiple failed pings MAY trigger connection reset": only the
        // maxMisses-th consecutive miss kills (hysteresis).
        pingTimeout: [
          { guard: "isFinalMiss", target: "dead", actions: ["recordMiss", "pingMissed"] },
          { target: "idle", actions: ["recordMiss", "pingMissed"] }
        ]
      },
      on: {
        PONG: { target: "idle", actions: "resetMisses" },
        PEER_ACTIVITY: { target: "idle", actions: "resetMisses" },
        // An error answer (other than -32601) or a failed send is a miss, like a timeout.
        PING_FAILED: [
          { guard: "isFinalMiss", target: "dead", actions: ["recordMiss", "pingMissed"] },
          { target: "idle", actions: ["recordMiss", "pingMissed"] }
        ],
        // -32601: the peer does not implement ping; stop for the rest of the session.
        PING_UNSUPPORTED: { target: "unsupported" }
      }
    },
    /** Latched: the peer answered ping with -32601; no further pings this session. */
    unsupported: {},
    /** The transport reports liveness itself (`keepalive: false`); never ping. */
    disabled: {},
    /** `maxMisses` consecutive misses: the peer is unresponsive (2025-11-25/basic/utilities/ping.mdx:L39). */
    dead: { type: "final" }
  }
} as const

/** Named guards of the keepalive chart. */
export const keepaliveGuards = {
  isKeepaliveDisabled: ({ context }: { readonly context: KeepaliveContext }) => !context.keepaliveEnabled,
  isFinalMiss: ({ context }: { readonly context: KeepaliveContext }) => isFinalMiss(context)
}

/** Delays read the context (from input); `.provide({ delays })` overrides them per instance. */
export const keepaliveDelays = {
  pingInterval: ({ context }: { readonly context: KeepaliveContext }) => context.pingIntervalMs,
  pingTimeout: ({ context }: { readonly context: KeepaliveContext }) => context.pingTimeoutMs
}

/**
 * A standalone keepalive actor (tests, diagrams, or a runtime that wants only this).
 *
 * @example
 * ```ts
 * import { createActor, SimulatedClock } from "xstate"
 * import { keepaliveMachine } from "mcp-actors/machines"
 *
 * const clock = new SimulatedClock()
 * const keepalive = createActor(
 *   keepaliveMachine.provide({ actions: { sendPing: () => console.log("ping"), pingMissed: () => console.log("missed") } }),
 *   { clock, input: { pingIntervalMs: 1_000, pingTimeoutMs: 200, maxMisses: 2 } }
 * ).start()
 * clock.increment(1_000)                              // "ping"
 * keepalive.send({ type: "PONG" })                    // answered: the interval starts again
 * clock.increment(1_000)                              // "ping"
 * clock.increment(200)                                // "missed": one miss, not yet dead
 * console.log(keepalive.getSnapshot().context.misses) // 1
 * ```
 */
export const keepaliveMachine = setup({
  types: {
    context: {} as KeepaliveContext,
    events: {} as KeepaliveEvent,
    input: {} as KeepaliveInput,
    output: {} as KeepaliveOutput
  },
  actions: {
    /** Effect: send `{"method":"ping"}` and report the outcome as PONG / PING_FAILED / PING_UNSUPPORTED. */
    sendPing: () => {},
    /** Effect: log the miss (2025-11-25/basic/utilities/ping.mdx:L66 — failures SHOULD be logged). */
    pingMissed: () => {},
    resetMisses: assign({ misses: 0 }),
    recordMiss: assign({ misses: ({ context }) => context.misses + 1 })
  },
  guards: keepaliveGuards,
  delays: keepaliveDelays
}).createMachine({
  id: "keepalive",
  context: ({ input }) => keepaliveContextFrom(input),
  ...keepaliveStates,
  output: ({ context }) => ({ _tag: "PeerUnresponsive", reason: "peer unresponsive", misses: context.misses })
})

/** The keepalive chart's type, for `ActorRefFrom`, `SnapshotFrom` and friends. */
export type KeepaliveMachine = typeof keepaliveMachine
