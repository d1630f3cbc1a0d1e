/**
 * The inspector's live feed, batched per turn of the event loop.
 *
 * Why: a busy runtime makes an inspection message for every event of every
 * actor, and serializing each one (redaction walk, `JSON.stringify`, a frame)
 * cost more than running the actors. So messages are only kept (references)
 * as they come, and serialized when the turn's batch is sent:
 *
 * - "full" clients (Stately's inspector, `mcp-actors inspect --json`) get
 *   every message in order, each serialized once for all of them;
 * - "lean" clients (the page, `?definitions=0`) get one `@xstate.snapshot`
 *   per actor that changed in the turn, carrying the turn's transitions as
 *   `steps` ([t, event type, value, status]: at most the page's window, the
 *   newest {@link STEPS_PER_TURN}, with `skipped` counting the rest), the event
 *   as its `type` only, and no context (the page shows none; under churn the
 *   contexts were half the feed's bytes); a session summary
 *   at most once per actor (for a session new in the turn, that summary with its
 *   recent transitions is its only line); beyond {@link BRIEF_LISTED} sessions
 *   born and ended well within the turn, a count of them (`@mcp-actors.brief`)
 *   in place of their lines; and nothing at all for an actor that was created
 *   and forgotten within the turn, nor for a child that is not a session (a
 *   request) created and ended within the turn: the page lists it for nobody.
 *
 * The lean state costs nothing per event beyond marking the actor touched: it
 * takes snapshots as calls ({@link FeedBatch.touch}, no message object), keeps
 * the record's sequence number of the turn's first one, and reads the steps
 * from the actor's own record at the drain.
 */
import type { EventObject } from "xstate"
import { feedObject, FEED_VERSION } from "./feed.ts"
import type { ActorView, FeedMessage, InspectorModel, SnapshotTouch } from "./InspectorModel.ts"
import { redactId } from "./redact.ts"

/** One transition of a lean snapshot's turn: time, event type, value, status. */
export type FeedStep = readonly [t: number, event: string, value: unknown, status: string]

/** A session summary's fields that rarely change: a lean summary repeats them only when they did. */
const IDENTITY: ReadonlySet<string> = new Set(["rootId", "parentId", "id", "machine", "side", "transport", "era", "protocolVersion", "peer", "startedAt"])

/**
 * Sessions born and ended (without an error) within one flush that the page still lists one by one; the
 * rest of them are only counted (`@mcp-actors.brief`). Why: under machine-rate churn (thousands of sessions
 * a second) a line per session cost the server a third more CPU for rows no one could read, each gone from
 * the page's retention within a fraction of a second; the model keeps their records all the same (the
 * record API, the full feed), and a session that ended with an error is always listed.
 */
export const BRIEF_LISTED = 16

/*
 * Under churn, new sessions still live wait one flush before the page hears of them (once: then they come
 * first): those beyond the first BRIEF_LISTED of a flush, and all of them in a flush that counted brief
 * ones (more than BRIEF_LISTED born and ended in it: churn). Why: a churned session lives a fraction of a
 * flush, and one born late in a flush ends early in the next: announced at once, it cost a line in each
 * (its summary; its end, a snapshot and a summary) and a forget, though it was as brief as those counted.
 * Held one flush, it is counted with them if it ended by then, and listed (its summary with the steps of
 * both flushes) if not. A few new actors in a quiet flush are listed at once, as before.
 */

/** Steps sent per actor per turn at most (the page keeps the last 50 transitions of an actor). */
export const STEPS_PER_TURN = 50

interface Pending {
  readonly actor: ActorView
  /** The turn (drain count) this entry is for: an entry left on a view from an earlier turn is stale. */
  readonly turn: number
  announce: FeedMessage | undefined
  /** The last event of the turn that led to a snapshot (undefined: no snapshot this turn). */
  event: EventObject | undefined
  createdAt: number
  /** The record's sequence number of the turn's first snapshot: the turn's steps are the entries from there. */
  since: number
  session: FeedMessage | undefined
  /** Held back from the previous flush (churn): listed in this one, whatever the pressure. */
  held: boolean
}

export interface FeedBatchOptions<C> {
  readonly model: InspectorModel
  readonly showSecrets: boolean
  /** The connected clients. */
  readonly clients: Iterable<C>
  readonly isLean: (client: C) => boolean
  /** Queue one line for one client. */
  readonly send: (client: C, line: string) => void
  /** Ask for {@link FeedBatch.drain} to be called soon (once per turn). */
  readonly schedule: () => void
}

export interface FeedBatch {
  /** Take a model message: kept by reference until the next drain. */
  readonly add: (message: FeedMessage) => void
  /** Take a snapshot as a call (subscribe with `snapshots: batch.touch` while no full client listens). */
  readonly touch: SnapshotTouch
  /** Whether to keep messages for lean / full clients (the server counts them). */
  want(lean: boolean, full: boolean): void
  /**
   * Serialize what came since the last drain and queue it for every client. Returns true when some
   * of it was held for the next drain (call it again within a flush's time).
   */
  drain(): boolean
}

export const makeFeedBatch = <C>(options: FeedBatchOptions<C>): FeedBatch => {
  const { model, showSecrets } = options
  let lean = false
  let full = false
  let ordered: Array<FeedMessage> = []
  /** Lean state of the turn, by xstate session id, in the order actors were first touched. */
  let pending = new Map<string, Pending>()
  let forgets: Array<string> = []
  /** Actors the lean clients never heard of (their forget is not sent either). */
  const unseen = new Set<string>()
  const isSession = (a: ActorView) => model.infoOf(a) !== undefined || /Session$/.test(a.machine ?? "")
  /** The same, asking the session's summary only of an actor whose chart does not say. */
  const isSessionActor = (a: ActorView) => /Session$/.test(a.machine ?? "") || model.infoOf(a) !== undefined

  /** The turn's entries are also kept on their views under this batch's own key: a snapshot's lookup is one property read. */
  const slot: unique symbol = Symbol("feed batch entry")
  type Slotted = ActorView & { [slot]?: Pending | undefined }
  /** Drains so far (and clears): an entry of an earlier turn is not this turn's. */
  let turnNo = 0
  const entry = (actor: ActorView): Pending => {
    const cached = (actor as Slotted)[slot]
    if (cached !== undefined && cached.turn === turnNo) return cached
    let p = pending.get(actor.sessionId)
    if (p === undefined) pending.set(actor.sessionId, p = { actor, turn: turnNo, announce: undefined, event: undefined, createdAt: 0, since: -1, session: undefined, held: false })
    ;(actor as Slotted)[slot] = p
    return p
  }

  const touch: SnapshotTouch = (actor, event, t, seq) => {
    if (!lean) return
    const p = entry(actor)
    if (p.event === undefined) {
      // The actor's first snapshot of the turn: its steps start here.
      p.since = seq
      options.schedule()
    }
    p.event = event
    p.createdAt = t
  }

  const add = (message: FeedMessage): void => {
    if (full) ordered.push(message)
    if (!lean) return options.schedule()
    switch (message.type) {
      case "@xstate.actor":
        entry(message.actor).announce = message
        break
      case "@xstate.snapshot":
        return touch(message.actor, message.event, message.createdAt, message.seq)
      case "@mcp-actors.session": {
        const p = entry(message.actor)
        // A summary asked for with its recent transitions keeps asking for them.
        if (p.session === undefined || !(p.session as { recent?: boolean }).recent) p.session = message
        else p.session = { ...message, recent: true }
        break
      }
      case "@mcp-actors.forget": {
        const p = pending.get(message.sessionId)
        pending.delete(message.sessionId)
        if (p !== undefined) (p.actor as Slotted)[slot] = undefined
        // Created and forgotten within the turn: the lean clients never hear of it.
        if (unseen.delete(message.sessionId)) break
        if (p?.announce === undefined) forgets.push(message.sessionId)
        break
      }
      case "@xstate.event":
        break
    }
    options.schedule()
  }

  const leanSnapshot = (p: Pending): string => {
    const a = p.actor
    // The turn's transitions, from the record (the init snapshot makes none).
    const steps: Array<FeedStep> = []
    const n = a.record.eachSince(p.since, STEPS_PER_TURN, (t, event, value, status) => void steps.push([t, event.type, value ?? null, status]))
    const skipped = a.record.total - p.since - n
    return JSON.stringify({
      type: "@xstate.snapshot",
      sessionId: a.sessionId,
      rootId: a.rootId,
      parentId: a.parentId,
      id: redactId(a.id, showSecrets),
      event: { type: p.event!.type },
      snapshot: { value: a.value ?? null, status: a.status },
      steps,
      ...(skipped > 0 ? { skipped } : {}),
      createdAt: p.createdAt,
      _version: FEED_VERSION
    })
  }

  /** Each actor's last summary sent to the lean clients: the next one leaves out the fields that stayed the same. */
  const sentSummary = new WeakMap<ActorView, Record<string, unknown>>()
  /**
   * A session summary for the lean clients: its identity fields (who, which machine, era, peer …) only
   * when they differ from the actor's last summary sent, since the page merges each summary into what it
   * has (and a client that connects later starts from the full snapshot). Under load most sessions change
   * at every flush, and these fields were half of each line.
   */
  const leanSummary = (actor: ActorView, message: FeedMessage): string => {
    const o = feedObject(model, message, showSecrets, true)
    const last = sentSummary.get(actor)
    sentSummary.set(actor, o)
    if (last === undefined) return JSON.stringify(o)
    const delta: Record<string, unknown> = {}
    for (const k in o) if (!(IDENTITY.has(k) && last[k] === o[k])) delta[k] = o[k]
    return JSON.stringify(delta)
  }

  /** Keep `p` for the next drain (it is this drain's `pending` now, before anything new comes). */
  const hold = (p: Pending): void => {
    const next: Pending = { ...p, turn: turnNo, held: true }
    pending.set(p.actor.sessionId, next)
    ;(p.actor as Slotted)[slot] = next
  }

  const drain = (): boolean => {
    const messages = ordered
    const turn = pending
    const gone = forgets
    ordered = []
    pending = new Map()
    turnNo++
    forgets = []
    let fullLines: Array<string> | undefined
    let leanLines: Array<string> | undefined
    let held = false
    for (const client of options.clients) {
      if (options.isLean(client)) {
        if (leanLines === undefined) {
          leanLines = []
          let briefListed = 0
          let brief = 0
          // New sessions still live, listed at once up to BRIEF_LISTED unless the flush is churning (held one flush).
          let fresh = 0
          let bornAndEnded = 0
          for (const p of turn.values()) if (p.announce !== undefined && p.actor.end !== undefined && !p.actor.end.error) bornAndEnded++
          const churning = bornAndEnded > BRIEF_LISTED
          for (const p of turn.values()) {
            if (p.announce !== undefined && p.actor.end !== undefined && p.actor.parentId !== undefined && !isSession(p.actor)) {
              unseen.add(p.actor.sessionId)
              continue
            }
            if (p.announce !== undefined && p.actor.end !== undefined && !p.actor.end.error && ++briefListed > BRIEF_LISTED) {
              // Born and ended well within this flush, beyond the first few: counted, not listed.
              unseen.add(p.actor.sessionId)
              brief++
              continue
            }
            if (p.announce !== undefined && p.actor.end === undefined && !p.held && (churning || ++fresh > BRIEF_LISTED) && isSessionActor(p.actor)) {
              hold(p)
              held = true
              continue
            }
            if (p.announce !== undefined && p.session !== undefined) {
              // New in this turn, with its summary: that one line (its recent transitions included) is all
              // the page shows of it, where the announcement and the snapshot would repeat it (a churned
              // session is born, serves and ends within a flush).
              leanLines.push(leanSummary(p.actor, { type: "@mcp-actors.session", actor: p.actor, createdAt: p.session.createdAt, recent: true }))
              continue
            }
            if (p.announce !== undefined) leanLines.push(JSON.stringify(feedObject(model, p.announce, showSecrets, true)))
            if (p.event !== undefined) leanLines.push(leanSnapshot(p))
            if (p.session !== undefined) leanLines.push(leanSummary(p.actor, p.session))
          }
          for (const id of gone) leanLines.push(JSON.stringify({ type: "@mcp-actors.forget", sessionId: id, createdAt: Date.now(), _version: FEED_VERSION }))
          if (brief > 0) leanLines.push(JSON.stringify({ type: "@mcp-actors.brief", count: brief, createdAt: Date.now(), _version: FEED_VERSION }))
        }
        for (const line of leanLines) options.send(client, line)
      } else {
        fullLines ??= messages.map((m) => JSON.stringify(feedObject(model, m, showSecrets)))
        for (const line of fullLines) options.send(client, line)
      }
    }
    return held
  }

  return {
    add,
    touch,
    want(l, f) {
      lean = l
      full = f
      if (!l) {
        pending.clear()
        turnNo++
        forgets.length = 0
        unseen.clear()
      }
      if (!f) ordered.length = 0
    },
    drain
  }
}
