/**
 * What must hold after every step of a simulated run, and at its end.
 *
 * - Every call the clients make settles exactly once, with its own result or
 *   a typed client error, and never later than its deadline.
 * - No response reaches the wrong session: a result names the call's tag and
 *   the server session it ran on, which must be the one this client's link
 *   leads to; on the wire, every response answers a request sent on that link.
 * - The server answers each delivery of a request at most once, and never
 *   after the client's cancellation of it was delivered.
 * - Nothing stays in flight after close: an ended session has no request in
 *   flight, no handler still running un-aborted, no timer of its own pending.
 * - At the end: the registry and supervisor are empty, no TestClock sleep, no
 *   scheduled network event, no open link, no running actor, no pending timer.
 */
import type { JsonRpcMessage } from "../../src/protocol/jsonrpc.ts"
import {
  CapabilityNotSupported,
  ConnectionLost,
  RequestCancelled,
  RequestTimeout,
  RpcError,
  SessionClosed
} from "../../src/protocol/requestErrors.ts"
import type { Direction, SimLink, WireObserver } from "./SimNetwork.ts"
import type { Trace } from "./Trace.ts"

export interface Violation {
  readonly at: number
  readonly invariant: string
  readonly detail: string
}

export interface CallRecord {
  readonly n: number
  readonly client: string
  readonly link: SimLink
  readonly kind: string
  readonly method: string
  readonly tag: string
  readonly issuedAt: number
  readonly deadline: number
  /** The server session this call must have run on. */
  readonly expectSession: string
  /**
   * On a lossless network: how long the answer takes at most. A call whose
   * deadline leaves that much time must not time out unless a fault touched
   * its link meanwhile (liveness).
   */
  readonly budgetMs: number | undefined
  settled: { readonly at: number; readonly outcome: string } | undefined
  settleCount: number
}

/** The typed errors a client call may fail with (src/protocol/requestErrors.ts). */
const TYPED_ERRORS = [RpcError, RequestTimeout, RequestCancelled, ConnectionLost, SessionClosed, CapabilityNotSupported] as const
export const isTypedClientError = (e: unknown): e is InstanceType<(typeof TYPED_ERRORS)[number]> =>
  TYPED_ERRORS.some((cls) => e instanceof cls)

/** The outcome of a call made through the Effect API whose fiber was interrupted (the request was cancelled). */
export class FiberInterrupted extends Error {
  readonly _tag = "FiberInterrupted"
  constructor() {
    super("the calling fiber was interrupted")
  }
}

/** Something that owns timers and ends: a session with its own counted clock. */
export interface TimerOwner {
  readonly label: string
  readonly ended: () => boolean
  readonly pendingTimers: () => number
}

interface LinkWire {
  /** Request ids sent per direction (JSON of the id). */
  readonly requests: Record<Direction, Set<string>>
  /** Deliveries of each client request to the server. */
  readonly delivered: Map<string, number>
  /** Responses the server sent per id. */
  readonly answered: Map<string, number>
  /** Ids whose cancellation reached the server after their last delivery. */
  readonly cancelled: Set<string>
}

export class Invariants implements WireObserver {
  readonly violations: Array<Violation> = []
  readonly calls: Array<CallRecord> = []
  /** Calls not settled yet, per client session label. */
  private readonly waitingBy = new Map<string, number>()
  waiting(client: string): number {
    return this.waitingBy.get(client) ?? 0
  }
  private readonly wires = new Map<SimLink, LinkWire>()
  private readonly owners: Array<TimerOwner> = []
  private readonly reportedOwners = new Set<TimerOwner>()
  private readonly reportedCalls = new Set<CallRecord>()
  /** Every call before this index has settled (the deadline scan starts here). */
  private firstOpen = 0

  private readonly now: () => number
  private readonly trace: Trace
  constructor(now: () => number, trace: Trace) {
    this.now = now
    this.trace = trace
  }

  fail(invariant: string, detail: string): void {
    this.violations.push({ at: this.now(), invariant, detail })
    this.trace.record("VIOLATION", `${invariant}: ${detail}`)
  }

  // ------------------------------------------------------------ calls

  begin(call: Omit<CallRecord, "n" | "settled" | "settleCount" | "issuedAt">): CallRecord {
    const record: CallRecord = { ...call, n: this.calls.length + 1, issuedAt: this.now(), settled: undefined, settleCount: 0 }
    this.calls.push(record)
    this.waitingBy.set(record.client, (this.waitingBy.get(record.client) ?? 0) + 1)
    this.trace.record("call.begin", `#${record.n} ${record.client} ${record.link.id} ${record.kind} ${record.tag} deadline ${record.deadline}`)
    return record
  }

  settle(call: CallRecord, outcome: { readonly ok: unknown } | { readonly error: unknown }): void {
    call.settleCount++
    if (call.settleCount > 1) return this.fail("exactly-once", `call #${call.n} settled ${call.settleCount} times`)
    let text: string
    if ("ok" in outcome) {
      text = `ok ${this.checkResult(call, outcome.ok)}`
    } else {
      const e = outcome.error
      if (e instanceof FiberInterrupted && call.kind === "interrupt") {
        text = "Interrupted"
      } else if (!isTypedClientError(e)) {
        this.fail("typed-errors", `call #${call.n} (${call.kind}) failed with an untyped error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
        text = `untyped ${String(e)}`
      } else {
        text = `${e._tag}${e._tag === "RpcError" ? ` ${(e as RpcError).code}` : ""} ${e.message}`
        if (
          e._tag === "RequestTimeout" && call.budgetMs !== undefined && call.deadline - call.issuedAt >= call.budgetMs &&
          !call.link.disturbedDuring(call.issuedAt, this.now())
        ) {
          this.fail(
            "liveness",
            `call #${call.n} (${call.kind} on ${call.link.id}) timed out after ${call.deadline - call.issuedAt} ms on a lossless link no fault touched, though its answer needs at most ${call.budgetMs} ms`
          )
        }
      }
    }
    call.settled = { at: this.now(), outcome: text }
    this.waitingBy.set(call.client, this.waitingBy.get(call.client)! - 1)
    this.trace.record("call.settle", `#${call.n} ${text}`)
  }

  /** A progress notification reached the call's callback: only before its end, only increasing (progress.mdx). */
  progress(call: CallRecord, value: number): void {
    this.progressSeen++
    this.trace.record("call.progress", `#${call.n} ${value}`)
    if (call.settled !== undefined) this.fail("progress", `call #${call.n} got progress ${value} after it settled`)
    const last = this.lastProgress.get(call) ?? -Infinity
    if (!(value > last)) this.fail("progress", `call #${call.n} got progress ${value} after ${last}`)
    this.lastProgress.set(call, value)
  }
  private readonly lastProgress = new WeakMap<CallRecord, number>()
  /** Progress notifications that reached a call's callback. */
  progressSeen = 0

  /** A successful result must be this call's own, from the server session its link leads to. */
  private checkResult(call: CallRecord, result: unknown): string {
    if (call.kind === "ping" || call.kind === "list" || call.kind === "subscribe") return call.kind
    const r = result as { content?: ReadonlyArray<{ text?: unknown }>; isError?: boolean }
    if (call.kind === "fail") {
      if (r.isError !== true) this.fail("wrong-response", `call #${call.n} (fail) got a result without isError`)
      return "isError"
    }
    const text = r.content?.[0]?.text
    // The sampling round trip to the client may fail (timeout, lost connection): a tool execution error.
    if (call.kind === "sample" && r.isError === true) return `isError ${String(text)}`
    let body: { tag?: unknown; session?: unknown } | undefined
    try {
      body = typeof text === "string" ? JSON.parse(text) : undefined
    } catch {
      body = undefined
    }
    if (body?.tag !== call.tag) this.fail("wrong-response", `call #${call.n} tagged ${call.tag} got ${JSON.stringify(text)}`)
    else if (body.session !== call.expectSession) {
      this.fail("wrong-session", `call #${call.n} on ${call.expectSession} was answered by session ${String(body.session)}`)
    }
    return String(body?.tag)
  }

  // ------------------------------------------------------------ wire

  private wire(link: SimLink): LinkWire {
    let w = this.wires.get(link)
    if (w === undefined) {
      w = { requests: { c2s: new Set(), s2c: new Set() }, delivered: new Map(), answered: new Map(), cancelled: new Set() }
      this.wires.set(link, w)
    }
    return w
  }

  onSend(link: SimLink, side: "client" | "server", message: JsonRpcMessage): void {
    const w = this.wire(link)
    const direction: Direction = side === "client" ? "c2s" : "s2c"
    if ("method" in message) {
      if ("id" in message) w.requests[direction].add(JSON.stringify(message.id))
      return
    }
    if (side !== "server" || message.id === null || message.id === undefined) return
    const id = JSON.stringify(message.id)
    if (!w.requests.c2s.has(id)) return // answers a request the wire check reports on delivery
    const answered = (w.answered.get(id) ?? 0) + 1
    w.answered.set(id, answered)
    const delivered = w.delivered.get(id) ?? 0
    if (answered > delivered) {
      this.fail("exactly-once", `${link.id}: the server sent response #${answered} for request ${id} delivered ${delivered} time(s)`)
    }
    if (w.cancelled.has(id)) this.fail("cancellation", `${link.id}: the server answered request ${id} after its cancellation was delivered`)
  }

  onDeliver(link: SimLink, direction: Direction, message: JsonRpcMessage | undefined): void {
    if (typeof message !== "object" || message === null) return
    const w = this.wire(link)
    if ("method" in message) {
      if (direction !== "c2s") return
      if ("id" in message) {
        const id = JSON.stringify(message.id)
        w.delivered.set(id, (w.delivered.get(id) ?? 0) + 1)
        w.cancelled.delete(id)
      } else if (message.method === "notifications/cancelled") {
        const id = JSON.stringify((message.params as { requestId?: unknown } | undefined)?.requestId)
        // Only a request that reached the server can be cancelled there.
        if ((w.delivered.get(id) ?? 0) > 0) w.cancelled.add(id)
      }
      return
    }
    if (message.id === null || message.id === undefined) return
    const id = JSON.stringify(message.id)
    const asked = direction === "s2c" ? w.requests.c2s : w.requests.s2c
    if (!asked.has(id)) this.fail("wrong-session", `${link.id} ${direction}: a response for id ${id}, which was never sent as a request on this link`)
  }

  // ------------------------------------------------------------ sessions and timers

  addTimerOwner(owner: TimerOwner): void {
    this.owners.push(owner)
  }

  /** Once `ended()` holds, `leftovers()` must say nothing (checked after every step, reported once). */
  watchSession(session: { readonly label: string; readonly ended: () => boolean; readonly leftovers: () => string | undefined }): void {
    this.sessions.push(session)
  }
  private readonly sessions: Array<{ readonly label: string; readonly ended: () => boolean; readonly leftovers: () => string | undefined }> = []
  private readonly reportedSessions = new Set<object>()
  private readonly sessionChecks = new Map<object, number>()

  /** A check run after every step: returns what is wrong, or undefined. Reported once per distinct message. */
  addStepCheck(invariant: string, check: () => string | undefined): void {
    this.stepChecks.push({ invariant, check })
  }
  private readonly stepChecks: Array<{ readonly invariant: string; readonly check: () => string | undefined }> = []
  private readonly reportedChecks = new Set<string>()

  /** After every step. */
  checkStep(): void {
    const now = this.now()
    for (const { invariant, check } of this.stepChecks) {
      const wrong = check()
      if (wrong !== undefined && !this.reportedChecks.has(wrong)) {
        this.reportedChecks.add(wrong)
        this.fail(invariant, wrong)
      }
    }
    for (let i = this.firstOpen; i < this.calls.length; i++) {
      const call = this.calls[i]!
      if (call.settled !== undefined && i === this.firstOpen) this.firstOpen++
      if (call.settled === undefined && now > call.deadline && !this.reportedCalls.has(call)) {
        this.reportedCalls.add(call)
        this.fail("deadline", `call #${call.n} (${call.kind} on ${call.link.id}) is still pending ${now - call.deadline} ms after its deadline`)
      }
    }
    for (const session of this.sessions) {
      if (!session.ended() || this.reportedSessions.has(session)) continue
      // Checked for a few steps after its end (what is left then stays left), then retired.
      const checks = (this.sessionChecks.get(session) ?? 0) + 1
      this.sessionChecks.set(session, checks)
      if (checks > 5) continue
      const left = session.leftovers()
      if (left !== undefined) {
        this.reportedSessions.add(session)
        this.fail("in-flight-after-close", `${session.label} ended with ${left}`)
      }
    }
    for (const owner of this.owners) {
      if (owner.ended() && owner.pendingTimers() > 0 && !this.reportedOwners.has(owner)) {
        this.reportedOwners.add(owner)
        this.fail("timers", `${owner.label} ended with ${owner.pendingTimers()} timer(s) of its own still pending`)
      }
    }
  }

  /** The end of the run: everything back to zero. */
  checkEnd(facts: Record<string, number>): void {
    for (const call of this.calls) {
      if (call.settled === undefined && !this.reportedCalls.has(call)) this.fail("exactly-once", `call #${call.n} (${call.kind}) never settled`)
    }
    for (const [name, value] of Object.entries(facts)) {
      if (value !== 0) this.fail("back-to-zero", `${name} = ${value} at the end`)
    }
    this.checkStep()
  }
}
