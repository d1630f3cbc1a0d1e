/**
 * The inspector's feed on the wire: one JSON object per message, in
 * `@statelyai/inspect`'s format (`@xstate.actor` with the machine's
 * `definition`, `@xstate.snapshot`, `@xstate.event`, each with `sessionId`,
 * `rootId`, `parentId`) plus `@mcp-actors.session` (what the runtime knows of
 * a session: side, transport, era, peer, requests in flight, end) and
 * `@mcp-actors.forget` (an ended actor no longer kept).
 */
import type { ActorView, FeedMessage, InspectorModel, SnapshotView } from "./InspectorModel.ts"
import { redactId, toJsonSafe } from "./redact.ts"
import { stateLabel } from "./SessionRecord.ts"

export const FEED_VERSION = "mcp-actors.inspect/1"
/** Transitions sent with a session to a client that just connected. */
export const RECENT = 20

const definitions = new WeakMap<object, string>()

/** The machine's definition as Stately's inspector wants it (a JSON string), computed once per machine. */
const definitionOf = (logic: { toJSON?: () => unknown } | undefined): string | undefined => {
  if (logic === undefined || logic === null || typeof logic.toJSON !== "function") return undefined
  let d = definitions.get(logic)
  if (d === undefined) {
    try {
      d = JSON.stringify(logic.toJSON())
    } catch {
      return undefined
    }
    definitions.set(logic, d)
  }
  return d
}

// xstate never mutates a context (assign makes a new one), and most events leave it as it was:
// each context is made safe once.
const safeContexts = [new WeakMap<object, unknown>(), new WeakMap<object, unknown>()] as const
export const safeContext = (context: unknown, showSecrets: boolean): unknown => {
  if (typeof context !== "object" || context === null) return toJsonSafe(context, { showSecrets })
  const cache = safeContexts[showSecrets ? 1 : 0]
  let safe = cache.get(context)
  if (safe === undefined) {
    safe = toJsonSafe(context, { showSecrets })
    cache.set(context, safe)
  }
  return safe
}

const snapshotOf = (actor: SnapshotView, showSecrets: boolean, lean: boolean) =>
  lean ? { value: actor.value ?? null, status: actor.status } : { value: actor.value ?? null, status: actor.status, context: safeContext(actor.context, showSecrets) }

/** The session summary of an actor (everything the page lists about it), as the feed's message made at `createdAt`. */
export const sessionSummary = (model: InspectorModel, actor: ActorView, showSecrets: boolean, recent: boolean, createdAt: number) => {
  const info = model.infoOf(actor)
  // Without a registered session, only a session chart's name tells its side.
  const side = info?.role ?? (actor.machine === undefined ? undefined : /ServerSession$/.test(actor.machine) ? "server" : /ClientSession$/.test(actor.machine) ? "client" : undefined)
  return {
    type: "@mcp-actors.session" as const,
    sessionId: actor.sessionId,
    rootId: actor.rootId,
    parentId: actor.parentId ?? null,
    id: redactId(actor.id, showSecrets),
    machine: actor.machine ?? null,
    side: side ?? null,
    transport: info?.transport ?? null,
    era: info?.era ?? null,
    protocolVersion: info?.protocolVersion ?? null,
    // The peer's info is the same object for the session's life: made safe once (`safeContext`'s cache).
    peer: info?.peer === undefined ? null : safeContext(info.peer, showSecrets),
    inFlight: info?.inFlight ?? actor.requests?.size ?? 0,
    requests: actor.requests === undefined ? [] : [...actor.requests.values()].map((r) => ({ id: r.id, method: r.method, since: r.since })),
    startedAt: info?.startedAt ?? actor.startedAt,
    state: stateLabel(actor.value),
    value: actor.value ?? null,
    status: actor.status,
    end: actor.end ?? null,
    ...(recent ? { recent: actor.record.last(RECENT).map((e) => ({ t: e.t, event: e.event.type, value: e.value ?? null, status: e.status })) } : {}),
    createdAt,
    _version: FEED_VERSION
  }
}

/**
 * One message as a JSON object (secrets redacted unless `showSecrets`). `lean` (the page's feed) leaves
 * out the machine's definition from `@xstate.actor` (the page fetches laid-out charts instead; a client
 * request actor per call would otherwise carry kilobytes each) and every snapshot's context (the page
 * shows states, not contexts; a record or the full feed has them).
 */
export const feedObject = (model: InspectorModel, message: FeedMessage, showSecrets: boolean, lean = false): Record<string, unknown> => {
  switch (message.type) {
    case "@xstate.actor": {
      const a = message.actor
      return {
        type: "@xstate.actor",
        sessionId: a.sessionId,
        rootId: a.rootId,
        parentId: a.parentId,
        id: redactId(a.id, showSecrets),
        name: a.machine,
        definition: lean ? undefined : definitionOf(a.logic as { toJSON?: () => unknown } | undefined),
        snapshot: snapshotOf(a, showSecrets, lean),
        createdAt: message.createdAt,
        _version: FEED_VERSION
      }
    }
    case "@xstate.snapshot": {
      const a = message.actor
      return {
        type: "@xstate.snapshot",
        sessionId: a.sessionId,
        rootId: a.rootId,
        parentId: a.parentId,
        id: redactId(a.id, showSecrets),
        event: toJsonSafe(message.event, { showSecrets }),
        snapshot: snapshotOf(message.snapshot, showSecrets, lean),
        createdAt: message.createdAt,
        _version: FEED_VERSION
      }
    }
    case "@xstate.event": {
      const a = message.actor
      return {
        type: "@xstate.event",
        sessionId: a.sessionId,
        rootId: a.rootId,
        parentId: a.parentId,
        id: redactId(a.id, showSecrets),
        sourceId: message.sourceId,
        event: toJsonSafe(message.event, { showSecrets }),
        createdAt: message.createdAt,
        _version: FEED_VERSION
      }
    }
    case "@mcp-actors.session":
      return sessionSummary(model, message.actor, showSecrets, message.recent === true, message.createdAt)
    case "@mcp-actors.forget":
      return { type: "@mcp-actors.forget", sessionId: message.sessionId, createdAt: message.createdAt, _version: FEED_VERSION }
  }
}
