/**
 * The legacy server chart as the runtime runs it: `machines/legacyServerSession.ts` with
 * the runtime's actions (its effects). Guards and delays are the chart's own.
 */
import { type AnyActorRef, raise } from "xstate"
import { type InitializeParams, isValidInitializeParams, type LegacyServerSessionContext, type LegacyServerSessionEvent, type LegacyServerSessionInput, legacyServerSessionMachine, type RejectParams } from "../../../machines/legacyServerSession.ts"
import { memoizeInitialSnapshot } from "../../runtime/initialSnapshots.ts"
import { memoizeTransitions, type PerActor } from "../../runtime/transitionMemo.ts"
import type { ServerSession } from "../ServerSession.ts"
import { hibernationGranted } from "./hibernate.ts"
import { announceReady, beginDrain, cancelInFlight, dispatchHeld, reject, released, replyPong, respondInitialize } from "./chartActions.ts"

/**
 * The session each running chart belongs to, kept on the actor under a private symbol.
 * Not in the chart's context: a live object there would make snapshots unserializable
 * (hibernation persists them as JSON). Not a `WeakMap`: one entry per short-lived actor
 * cost ~5 µs of a churned session (GC of ephemerons), a property costs nothing.
 */
const OWNER = Symbol("mcp-actors.serverSession")
type Owned = { [OWNER]?: ServerSession | undefined }
const owner = (self: AnyActorRef): ServerSession => (self as Owned)[OWNER]!

/** Make `actor` run for `session` (before it starts). */
export const bindChart = (actor: AnyActorRef, session: ServerSession): void => void ((actor as Owned)[OWNER] = session)
/** `actor` was stopped: it no longer runs for its session. */
export const unbindChart = (actor: AnyActorRef): void => void ((actor as Owned)[OWNER] = undefined)

/**
 * The server chart with the runtime's implementations, built once: creating a
 * machine per session (`.provide()` per instance) cost ~20 % of session set-up.
 * Only actions are provided (the effects); guards and delays are the chart's own,
 * reading context and events, so tests of the chart run what production runs.
 * Each action finds its session through the actor (`self`); what it does is `chartActions.ts`.
 */
export const runtimeServerMachine = legacyServerSessionMachine.provide({
  actions: {
    respondInitialize: ({ context, self }, params) => respondInitialize(owner(self), params.id, context.protocolVersion),
    reject: ({ self }, params: RejectParams) => reject(owner(self), params),
    replyPong: ({ self }, params) => replyPong(owner(self), params.id),
    dispatch: ({ self }, params) => dispatchHeld(owner(self), params.id),
    announceReady: ({ self }) => announceReady(owner(self)),
    beginDrain: ({ self }) => beginDrain(owner(self)),
    cancelInFlight: ({ self }) => cancelInFlight(owner(self)),
    release: ({ context, self }) => released(owner(self), context.closeReason ?? "closed"),
    hibernate: ({ self }) => hibernationGranted(owner(self)),
    reportActivity: raise(({ self }: { self: AnyActorRef }): LegacyServerSessionEvent => ({ type: "IDLE_CHECK", ...owner(self).activity() }))
  }
})


/** What an INITIALIZE step only copies: the request's id (into the reply's params), the client's capabilities and info (into the context). */
const perActor: PerActor<LegacyServerSessionEvent> = {
  of: (event) => {
    if (event.type !== "INITIALIZE") return undefined
    const p = event.params as InitializeParams
    return [event.id, p.capabilities, p.clientInfo]
  },
  with: (event, [id, capabilities, clientInfo]) =>
    event.type === "INITIALIZE" ? { ...event, id: id as typeof event.id, params: { ...event.params as InitializeParams, capabilities, clientInfo } } : event
}

/**
 * What sessions run: {@link runtimeServerMachine}, its initial step computed once per
 * server for a chart that starts with its connection (nothing elapsed, nothing served:
 * every churned HTTP session). See `runtime/initialSnapshots.ts`.
 */
export const runtimeServerLogic = memoizedServerLogic(runtimeServerMachine)

/**
 * @internal The session chart with `actions` provided, its initial step and its churn steps
 * memoized as sessions run it (tests give it recording actions to compare it with the plain chart).
 */
export function memoizedServerLogic<M extends typeof runtimeServerMachine>(machine: M) {
  return memoizeTransitions(memoizeInitialSnapshot(machine, initialKey), stepKey, perActor)
}

/** The input facts of a fresh session's first step (nothing elapsed, nothing served), or undefined. */
function initialKey(input: LegacyServerSessionInput): string | undefined {
  const a = input.activity
  if ((input.elapsedMs ?? 0) !== 0 || input.servedModern === true || (a !== undefined && (a.inFlight !== 0 || a.idleForMs !== 0))) return undefined
  // The last server's key again when its facts are the same (every churned session of a server): built once.
  const l = lastInitial
  if (
    l !== undefined && l.idleTimeoutMs === input.idleTimeoutMs && l.handshakeTimeoutMs === input.handshakeTimeoutMs &&
    l.drainTimeoutMs === input.drainTimeoutMs && l.earlyRequests === input.earlyRequests && l.supportedVersions === input.supportedVersions
  ) return l.key
  const key = `${input.idleTimeoutMs}|${input.handshakeTimeoutMs}|${input.drainTimeoutMs}|${input.earlyRequests}|${versionsKey(input.supportedVersions)}`
  lastInitial = {
    idleTimeoutMs: input.idleTimeoutMs, handshakeTimeoutMs: input.handshakeTimeoutMs, drainTimeoutMs: input.drainTimeoutMs,
    earlyRequests: input.earlyRequests, supportedVersions: input.supportedVersions, key
  }
  return key
}

let lastInitial: (Pick<LegacyServerSessionInput, "idleTimeoutMs" | "handshakeTimeoutMs" | "drainTimeoutMs" | "earlyRequests" | "supportedVersions"> & { readonly key: string }) | undefined

/**
 * The facts of a step the transition memo may replay (`runtime/transitionMemo.ts`): INITIALIZED
 * carries none, TRANSPORT_CLOSED its reason (last in the key); guards, delays and `assign`s
 * read only those and the context's scalar fields, all in the key. A valid INITIALIZE (in
 * `awaitingInitialize` it is answered, later refused) decides on the requested version
 * (negotiated against the supported ones, in the key) and the time elapsed (the handshake
 * deadline: only a fresh connection's 0–3 ms are memoized); it copies its id, capabilities
 * and client info ({@link perActor}). A version the server does not support takes the
 * chart's own step (the key stays bounded).
 */
function stepKey(snapshot: { value: unknown; context: LegacyServerSessionContext }, event: LegacyServerSessionEvent): string | undefined {
  const value = snapshot.value
  if (typeof value !== "string") return undefined
  const c = snapshot.context
  let facts: string, slot: number
  if (event.type === "INITIALIZED") facts = "I", slot = 0
  else if (event.type === "TRANSPORT_CLOSED") facts = event.reason, slot = 1
  else if (event.type === "INITIALIZE") {
    // The few milliseconds a busy server takes between opening the session and this step (`Date.now`
    // ticking over), not a late client's: each is a key of its own, later times take the chart's own step.
    const elapsed = event.elapsedMs ?? 0
    if (!(elapsed === 0 || elapsed === 1 || elapsed === 2 || elapsed === 3) || !isValidInitializeParams(event.params)) return undefined
    const version = event.params.protocolVersion
    if (!c.supportedVersions.includes(version as never)) return undefined
    facts = version, slot = 2 + elapsed * 2 + (typeof event.id === "string" ? 1 : 0)
  } else return undefined
  return internedKey(value, facts, slot, c)
}

/**
 * A step's key as {@link stepKey} names it, built once per (state, facts, context facts): every
 * session of a server steps with the same context facts, so the same string is returned and
 * the memo's lookup hashes it once (V8 keeps a string's hash), instead of concatenating and
 * hashing ~100 characters per step. `slot`: 0 INITIALIZED, 1 TRANSPORT_CLOSED (facts: the
 * reason), 2.. INITIALIZE (facts: the version; slot: elapsed ms and id type).
 */
const internedKey = (value: string, facts: string, slot: number, c: LegacyServerSessionContext): string => {
  let byFacts = interned.get(value)
  if (byFacts === undefined) interned.set(value, (byFacts = new Map()))
  let entries = byFacts.get(facts)
  if (entries === undefined && byFacts.size < INTERNED_LIMIT) byFacts.set(facts, (entries = []))
  const e = entries?.[slot]
  if (
    e !== undefined && e.c.idleTimeoutMs === c.idleTimeoutMs && e.c.handshakeTimeoutMs === c.handshakeTimeoutMs &&
    e.c.drainTimeoutMs === c.drainTimeoutMs && e.c.earlyRequests === c.earlyRequests && e.c.servedModern === c.servedModern &&
    e.c.handshakeDelayMs === c.handshakeDelayMs && e.c.idleDelayMs === c.idleDelayMs && e.c.supportedVersions === c.supportedVersions
  ) return e.key
  const kind = slot === 0 ? "I" : slot === 1 ? `T|${facts}` : `N|${versionsKey(c.supportedVersions)}|${facts}|${(slot - 2) >> 1}|${(slot & 1) === 1 ? "string" : "number"}`
  const key = `${value}|${c.idleTimeoutMs}|${c.handshakeTimeoutMs}|${c.drainTimeoutMs}|${c.earlyRequests}|${c.servedModern}|${c.handshakeDelayMs}|${c.idleDelayMs}|${kind}`
  // The facts only, not `c`: an ended session's context (its client's objects) is not kept.
  if (entries !== undefined) {
    entries[slot] = {
      c: {
        idleTimeoutMs: c.idleTimeoutMs, handshakeTimeoutMs: c.handshakeTimeoutMs, drainTimeoutMs: c.drainTimeoutMs, earlyRequests: c.earlyRequests,
        servedModern: c.servedModern, handshakeDelayMs: c.handshakeDelayMs, idleDelayMs: c.idleDelayMs, supportedVersions: c.supportedVersions
      },
      key
    }
  }
  return key
}

type KeyFacts = Pick<LegacyServerSessionContext, "idleTimeoutMs" | "handshakeTimeoutMs" | "drainTimeoutMs" | "earlyRequests" | "servedModern" | "handshakeDelayMs" | "idleDelayMs" | "supportedVersions">
/** The last key per state and facts, with the context facts it was built from. */
const interned = new Map<string, Map<string, Array<{ readonly c: KeyFacts; readonly key: string } | undefined>>>()
/** Facts remembered per state (close reasons, versions): past it, keys are built each time. */
const INTERNED_LIMIT = 32

/** A server's supported versions, as part of the memo key: one array per server, joined once. */
const versionKeys = new WeakMap<ReadonlyArray<string>, string>()
const versionsKey = (versions: ReadonlyArray<string> | undefined): string => {
  if (versions === undefined) return ""
  let key = versionKeys.get(versions)
  if (key === undefined) versionKeys.set(versions, (key = versions.join(",")))
  return key
}
