/**
 * The HTTP client connection charts (machines/httpClientConnection.ts, machines/httpExchange.ts):
 * pure steps, every state reached by xstate/graph paths, and the exchange run as an actor
 * on a SimulatedClock (the backoff is virtual time). The real transport that provides
 * their I/O is tested in http.client*.test.ts and http.client-recovery.test.ts.
 */
import { describe, expect, it } from "vitest"
import { type AnyStateMachine, createActor, fromPromise, initialTransition, SimulatedClock, transition } from "xstate"
import { getShortestPaths } from "xstate/graph"
import { exchangeKey, httpClientConnectionMachine as connection, INITIALIZED_KEY, STANDALONE_KEY } from "../machines/httpClientConnection.ts"
import {
  DEFAULT_HTTP_RECONNECT,
  type HttpExchangeInput,
  type HttpExchangeIo,
  httpExchangeMachine as exchange,
  type PostSummary,
  reconnectDelay,
  type ResumeSummary
} from "../machines/httpExchange.ts"
import { backoffDelayMs, defaultRestartPolicy } from "../src/protocol/restartPolicy.ts"
import { afterEvent, allStateIds } from "./support/eventOnlyTwin.ts"

const reconnect = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2, maxAttempts: 2 }
const req: HttpExchangeInput = { kind: "request", id: 7, method: "tools/call", text: "{}", reconnect }
const oneWay: HttpExchangeInput = { kind: "oneWay", method: "notifications/initialized", text: "{}", reconnect }
const standalone: HttpExchangeInput = { kind: "standalone", method: "GET", text: "", reconnect }

const posted = (output: PostSummary) => ({ type: "xstate.done.actor.post", output }) as const
const resumed = (output: ResumeSummary) => ({ type: "xstate.done.actor.resume", output }) as const
const UNREACHED = { _tag: "Unreached", message: "ECONNREFUSED" } as const
const ENDED = (cursor: string, progressed = false, retryMs?: number): ResumeSummary => ({ _tag: "StreamEnded", progressed, cursor, retryMs, endedBy: "end" })
const REJECTED = (status: number, hadSession = true) => ({ _tag: "Rejected", status, message: `HTTP ${status}`, body: "", hadSession }) as const
const POST_AGAIN = afterEvent("postBackoff", "httpExchange.postBackoff")
const RESUME_AGAIN = afterEvent("reconnectBackoff", "httpExchange.waitingToResume")

type AnyEvent = { readonly type: string; readonly [key: string]: unknown }
const run = (machine: AnyStateMachine, input: unknown, ...events: ReadonlyArray<AnyEvent>) => {
  let [snapshot, actions] = initialTransition(machine, input)
  const all = actions.map((a) => a.type)
  for (const event of events) {
    ;[snapshot, actions] = transition(machine, snapshot, event as never)
    all.push(...actions.map((a) => a.type))
  }
  return { snapshot, all }
}
const delayOf = (machine: AnyStateMachine, input: unknown, ...events: ReadonlyArray<AnyEvent>): number | undefined => {
  let [snapshot, actions] = initialTransition(machine, input)
  for (const event of events) [snapshot, actions] = transition(machine, snapshot, event as never)
  const raised = actions.find((a) => a.type === "xstate.raise" && (a.params as { delay?: number }).delay !== undefined)
  return (raised?.params as { delay?: number } | undefined)?.delay
}

describe("reconnectDelay: the one backoff formula", () => {
  it("is restartPolicy.backoffDelayMs with the server's retry: as base, capped at max(maxDelayMs, retry)", () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      expect(reconnectDelay(attempt, undefined, reconnect)).toBe(backoffDelayMs({ ...defaultRestartPolicy, baseDelayMs: 100, factor: 2, maxDelayMs: 1_000 }, attempt))
    }
    expect(reconnectDelay(1, 500, reconnect)).toBe(500)
    expect(reconnectDelay(3, 500, reconnect)).toBe(1_000)
    expect(reconnectDelay(5, 3_000, reconnect)).toBe(3_000) // never below the server's retry:
  })
})

describe("httpExchange: pure steps", () => {
  it("an unreached POST is re-sent maxAttempts times with the backoff, then the connection is unreachable", () => {
    expect(run(exchange, req, posted(UNREACHED)).snapshot.value).toBe("postBackoff")
    expect(delayOf(exchange, req, posted(UNREACHED))).toBe(100)
    expect(delayOf(exchange, req, posted(UNREACHED), POST_AGAIN, posted(UNREACHED))).toBe(200)
    const out = run(exchange, req, posted(UNREACHED), POST_AGAIN, posted(UNREACHED), POST_AGAIN, posted(UNREACHED)).snapshot
    expect(out.value).toBe("ended")
    expect(out.output).toMatchObject({ ending: "unreachable", failed: false })
    expect(out.output?.reason).toMatch(/server unreachable \(3 attempts\): ECONNREFUSED/)
  })

  it("notifications/initialized lost on the way is sent again (maxAttempts times), then the connection has failed; another one-way message lost is only failed", () => {
    const LOST = posted({ _tag: "Lost", message: "socket hang up" })
    expect(run(exchange, oneWay, LOST).snapshot.value).toBe("postBackoff")
    expect(run(exchange, oneWay, LOST, POST_AGAIN, posted({ _tag: "Accepted" })).snapshot.value).toBe("sent")
    const out = run(exchange, oneWay, LOST, POST_AGAIN, LOST, POST_AGAIN, LOST).snapshot
    expect(out.value).toBe("ended")
    expect(out.output).toMatchObject({ ending: "failed", failed: false })
    expect(out.output?.reason).toMatch(/notifications\/initialized was not delivered \(3 attempts\): socket hang up/)
    const other = run(exchange, { ...oneWay, method: "notifications/progress" }, LOST).snapshot
    expect(other.value).toBe("failed")
    expect(run(exchange, req, LOST).snapshot.value).toBe("failed") // a request may have been acted on: never re-sent
  })

  it("a 404 to a message that carried the session id ends the connection (session lost); without a session it is an HTTP error", () => {
    expect(run(exchange, req, posted(REJECTED(404))).snapshot.output).toMatchObject({ ending: "sessionLost", reason: "tools/call answered 404" })
    expect(run(exchange, oneWay, posted(REJECTED(404))).snapshot.output).toMatchObject({ ending: "sessionLost" })
    const plain = run(exchange, req, posted(REJECTED(404, false)))
    expect(plain.snapshot.value).toBe("failed")
    expect(plain.snapshot.context.failure).toMatchObject({ kind: "http", status: 404 })
    expect(plain.all).toContain("reportFailure")
  })

  it("a request's POST stream that ended before the answer is resumed after retry:, unless it had no event id", () => {
    const resumable = run(exchange, req, posted(ENDED("e1", true, 500)))
    expect(resumable.snapshot.value).toBe("waitingToResume")
    expect(resumable.snapshot.context).toMatchObject({ cursor: "e1", retryMs: 500, streamAttempts: 1 })
    expect(delayOf(exchange, req, posted(ENDED("e1", true, 500)))).toBe(500)
    const lost = run(exchange, req, posted(ENDED("")))
    expect(lost.snapshot.value).toBe("failed")
    expect(lost.snapshot.context.failure?.message).toMatch(/no event id to resume it/)
    // A one-way message's stream is not followed.
    expect(run(exchange, oneWay, posted(ENDED(""))).snapshot.value).toBe("sent")
  })

  it("attempts are bounded per outage: streams that end with nothing new do not reset the count, progress does", () => {
    const noProgress = run(exchange, req, posted(ENDED("e1")), RESUME_AGAIN, resumed(ENDED("e1")), RESUME_AGAIN, resumed(ENDED("e1")))
    expect(noProgress.snapshot.value).toBe("failed")
    expect(noProgress.snapshot.context.failure?.message).toMatch(/could not be resumed after 2 attempts \(last: the server ended the stream\)/)
    const progress = run(exchange, req, posted(ENDED("e1")), RESUME_AGAIN, resumed(ENDED("e2", true)), RESUME_AGAIN, resumed(ENDED("e3", true)), RESUME_AGAIN, resumed(ENDED("e3")))
    expect(progress.snapshot.value).toBe("waitingToResume")
    expect(progress.snapshot.context).toMatchObject({ cursor: "e3", streamAttempts: 2 })
  })

  it("resumptions that never reach the server end the connection as unreachable", () => {
    const out = run(exchange, standalone, resumed(UNREACHED), RESUME_AGAIN, resumed(UNREACHED), RESUME_AGAIN, resumed(UNREACHED)).snapshot
    expect(out.output).toMatchObject({ ending: "unreachable" })
  })

  it("the standalone stream: GET 405 means none (absent); given up after the budget with a diagnostic, not a failure", () => {
    expect(run(exchange, standalone, resumed(REJECTED(405))).snapshot.value).toBe("absent")
    const gaveUp = run(exchange, standalone, resumed(REJECTED(500)), RESUME_AGAIN, resumed(REJECTED(500)), RESUME_AGAIN, resumed(REJECTED(500)))
    expect(gaveUp.snapshot.value).toBe("gaveUp")
    expect(gaveUp.all).toContain("diagnostic")
    expect(gaveUp.all).not.toContain("reportFailure")
    // A request's stream that the server will not resume fails instead.
    expect(run(exchange, req, posted(ENDED("e1")), RESUME_AGAIN, resumed(REJECTED(405))).snapshot.context.failure?.message).toMatch(/GET 405/)
  })

  it("a 202 to a request waits for the answer on another stream; a JSON body without it fails; initialize rejected fails the connection", () => {
    expect(run(exchange, req, posted({ _tag: "Accepted" })).snapshot.value).toBe("awaitingElsewhere")
    expect(run(exchange, req, posted({ _tag: "Json", status: 200 })).snapshot.context.failure?.message).toMatch(/did not contain its answer/)
    expect(run(exchange, req, posted({ _tag: "InitializeFailed", reason: "initialize failed: HTTP 500" })).snapshot.output).toMatchObject({ ending: "failed", reason: "initialize failed: HTTP 500" })
  })

  it("xstate/graph: every state is reached by some path (request, one-way and standalone inputs)", () => {
    const events = [
      posted(UNREACHED), posted(REJECTED(404)), posted(REJECTED(500)), posted({ _tag: "Lost", message: "reset" }), posted(ENDED("e1")), posted(ENDED("")),
      posted({ _tag: "Accepted" }), posted({ _tag: "Answered" }), posted({ _tag: "InitializeFailed", reason: "x" }), posted({ _tag: "Json", status: 200 }),
      resumed(ENDED("e2", true)), resumed(REJECTED(405)), resumed(REJECTED(500)), resumed(REJECTED(404)), resumed(UNREACHED), POST_AGAIN, RESUME_AGAIN
    ]
    const reached = new Set<string>()
    for (const input of [req, oneWay, standalone]) {
      for (const path of getShortestPaths(exchange, { input, events: events as never, limit: 2_000 })) {
        const value = path.state.value
        reached.add(`httpExchange.${typeof value === "string" ? value : JSON.stringify(value)}`)
      }
    }
    // `starting` and `backoff` are transient (`always` leaves them at once).
    const expected = allStateIds(exchange).filter((id) => !["httpExchange", "httpExchange.starting", "httpExchange.backoff"].includes(id))
    expect([...reached].sort()).toEqual([...expected].sort())
  })
})

describe("httpExchange as an actor on virtual time", () => {
  it("resumes exactly after the server's retry: (virtual), with Last-Event-ID = the last event id", async () => {
    const clock = new SimulatedClock()
    const gets: Array<{ readonly at: number; readonly cursor: string }> = []
    const provided = exchange.provide({
      actors: {
        post: fromPromise<PostSummary, HttpExchangeIo>(async () => ENDED("ev-3", true, 500)),
        resume: fromPromise<ResumeSummary, HttpExchangeIo>(({ input }) => {
          gets.push({ at: clock.now(), cursor: input.cursor })
          return new Promise(() => {}) // the resumed stream stays open
        })
      }
    })
    const actor = createActor(provided, { input: req, clock }).start()
    await Promise.resolve()
    await Promise.resolve()
    expect(actor.getSnapshot().value).toBe("waitingToResume")
    clock.increment(499)
    expect(gets).toEqual([])
    clock.increment(1)
    expect(gets).toEqual([{ at: 500, cursor: "ev-3" }])
    actor.stop()
  })
})

const answered = (id: number, protocolVersion?: string) => ({ type: "ANSWERED", id, ...(protocolVersion === undefined ? {} : { protocolVersion }) }) as const
const done = (key: string, output: { failed: boolean; ending?: string; reason?: string }) =>
  ({ type: "EXCHANGE_ENDED", key, output: { ending: undefined, reason: undefined, ...output } }) as const
const INIT = { type: "REQUEST", id: 0, method: "initialize", text: "{}" } as const
const CALL = { type: "REQUEST", id: 1, method: "tools/list", text: "{}" } as const
const INITIALIZED = { type: "INITIALIZED", text: "{}" } as const

describe("httpClientConnection: pure steps", () => {
  it("the init gate: requests sent while `initialized` is in flight wait, then go out in order; the standalone stream starts", () => {
    const gated = run(connection, {}, INIT, { type: "SESSION_ID", sessionId: "s-1" }, answered(0, "2025-11-25"), INITIALIZED, CALL)
    expect(gated.snapshot.value).toEqual({ live: "gated" })
    expect(gated.snapshot.context).toMatchObject({ sessionId: "s-1", protocolVersion: "2025-11-25", initializeId: 0 })
    expect(gated.snapshot.context.queue.map((m: { key: string }) => m.key)).toEqual([exchangeKey(1)])
    expect(Object.keys(gated.snapshot.children)).toEqual([INITIALIZED_KEY])
    // The standalone GET goes out, and the queued calls wait until it is open: an SDK server sends a
    // call's elicitation on it, and drops it when there is none yet (conformance elicitation-sep1034-client-defaults).
    const opening = run(connection, {}, INIT, answered(0), INITIALIZED, CALL, done(INITIALIZED_KEY, { failed: false }))
    expect(opening.snapshot.value).toEqual({ live: "opening" })
    expect(Object.keys(opening.snapshot.children)).toEqual([STANDALONE_KEY])
    expect(opening.snapshot.context.queue.map((m: { key: string }) => m.key)).toEqual([exchangeKey(1)])
    const open = run(connection, {}, INIT, answered(0), INITIALIZED, CALL, done(INITIALIZED_KEY, { failed: false }), { type: "STANDALONE_READY" })
    expect(open.snapshot.value).toEqual({ live: "open" })
    expect(open.snapshot.context.queue).toEqual([])
    expect(Object.keys(open.snapshot.children)).toEqual([STANDALONE_KEY, exchangeKey(1)])
    // A stream that ended (405: the server offers none) lets them go as well.
    const refused = run(connection, {}, INIT, answered(0), INITIALIZED, CALL, done(INITIALIZED_KEY, { failed: false }), done(STANDALONE_KEY, { failed: false }))
    expect(refused.snapshot.value).toEqual({ live: "open" })
    expect(Object.keys(refused.snapshot.children)).toEqual([exchangeKey(1)])
  })

  it("no standalone stream when `initialized` was rejected or the options turn it off", () => {
    expect(Object.keys(run(connection, {}, INITIALIZED, done(INITIALIZED_KEY, { failed: true })).snapshot.children)).toEqual([])
    expect(Object.keys(run(connection, { standaloneStream: false }, INITIALIZED, done(INITIALIZED_KEY, { failed: false })).snapshot.children)).toEqual([])
  })

  it("an answer (on any stream) or a cancellation stops that request's exchange", () => {
    const { snapshot } = run(connection, {}, INIT, CALL, { type: "REQUEST", id: 2, method: "ping", text: "{}" }, answered(1), { type: "CANCEL", id: 2 })
    expect(Object.keys(snapshot.children)).toEqual([exchangeKey(0)])
  })

  it("an invalid Mcp-Session-Id fails the connection", () => {
    const { snapshot, all } = run(connection, {}, INIT, { type: "SESSION_ID", sessionId: "bad id" })
    expect(snapshot.value).toBe("failed")
    expect(snapshot.context.reason).toMatch(/invalid Mcp-Session-Id/)
    expect(all).toContain("reportEnded")
  })

  it("an exchange that lost the session ends the connection: requests in flight and queued fail (failInFlight)", () => {
    const { snapshot, all } = run(connection, {}, INIT, answered(0), INITIALIZED, CALL, done(INITIALIZED_KEY, { failed: false, ending: "sessionLost", reason: "notifications/initialized answered 404" }))
    expect(snapshot.value).toBe("sessionLost")
    expect(snapshot.context.reason).toBe("session lost: notifications/initialized answered 404")
    expect(all).toEqual(expect.arrayContaining(["failInFlight", "reportEnded"]))
    expect(snapshot.context.queue.map((m: { id?: number }) => m.id)).toEqual([1]) // what failInFlight fails besides the children
  })

  it("unreachable and failed exchanges end the connection the same way", () => {
    expect(run(connection, {}, INIT, done(exchangeKey(0), { failed: false, ending: "unreachable", reason: "server unreachable (6 attempts)" })).snapshot.value).toBe("unreachable")
    expect(run(connection, {}, INIT, done(exchangeKey(0), { failed: false, ending: "failed", reason: "initialize failed" })).snapshot.value).toBe("failed")
    // A request that merely failed does not end anything.
    expect(run(connection, {}, INIT, done(exchangeKey(0), { failed: true })).snapshot.value).toEqual({ live: "ungated" })
  })

  it("close: aborts every exchange, DELETEs only with a session id and deleteOnClose, then releases", () => {
    const withSession = run(connection, {}, INIT, { type: "SESSION_ID", sessionId: "s-1" }, CALL, { type: "CLOSE" })
    expect(withSession.snapshot.value).toEqual({ closing: "deleting" })
    expect(withSession.all).toContain("abortExchanges")
    expect(Object.keys(withSession.snapshot.children)).toContain("deleteSession")
    expect(run(connection, {}, INIT, { type: "CLOSE" }).snapshot.value).toEqual({ closing: "releasing" })
    expect(run(connection, { deleteOnClose: false }, INIT, { type: "SESSION_ID", sessionId: "s-1" }, { type: "CLOSE" }).snapshot.value).toEqual({ closing: "releasing" })
    const closed = run(connection, {}, INIT, { type: "SESSION_ID", sessionId: "s-1" }, { type: "CLOSE" }, { type: "xstate.done.actor.deleteSession" }, { type: "xstate.done.actor.release" })
    expect(closed.snapshot.value).toBe("closed")
    expect(closed.all).toContain("reportClosed")
  })

  it("xstate/graph: every state is reached by some path", () => {
    const events = [
      INIT, CALL, INITIALIZED, { type: "SESSION_ID", sessionId: "s-1" }, { type: "SESSION_ID", sessionId: "bad id" },
      done(INITIALIZED_KEY, { failed: false }), done(exchangeKey(1), { failed: false, ending: "sessionLost" }),
      done(exchangeKey(1), { failed: false, ending: "unreachable" }), { type: "CLOSE" }, { type: "xstate.done.actor.deleteSession" }, { type: "xstate.done.actor.release" },
      { type: "STANDALONE_READY" }
    ]
    const reached = new Set<string>()
    for (const path of getShortestPaths(connection, {
      input: {},
      events: events as never,
      // The queue and the one-way counter grow without bound: a state is its value plus what guards read.
      serializeState: (s) => JSON.stringify([s.value, s.context.sessionId !== undefined]) as never
    })) {
      const v = path.state.value
      reached.add(typeof v === "string" ? v : Object.entries(v).map(([k, c]) => `${k}.${String(c)}`)[0]!)
    }
    expect([...reached].sort()).toEqual(
      ["closed", "closing.deciding", "closing.deleting", "closing.releasing", "failed", "live.gated", "live.open", "live.opening", "live.ungated", "sessionLost", "unreachable"]
        .filter((s) => s !== "closing.deciding") // transient: `always` leaves it at once
        .sort()
    )
  })

  it("defaults: the reconnection policy of the transport", () => {
    expect(initialTransition(connection, {})[0].context.reconnect).toEqual(DEFAULT_HTTP_RECONNECT)
  })
})
