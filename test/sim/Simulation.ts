/**
 * A deterministic simulation of the whole runtime: N clients (`ClientSession`
 * with its session and outbound-request charts, kept alive by `supervise`) and
 * one server (`McpServer` served by `serveSupervised`, under the `Supervisor`
 * and `Registry`), connected by `SimNetwork`, all on Effect's `TestClock`.
 *
 * One seed decides everything: the network profile, every delay, drop and
 * duplicate, every client's operations and think times, every fault (link
 * crashes, half-open connections, stalls, server crashes), and the restart
 * jitter (Effect's `Random` is the same PRNG). The driver jumps the TestClock
 * to the next pending timer, lets promises and fibers settle, checks the
 * invariants, and repeats; the run ends when every client has stopped, the
 * supervisor has shut down and no timer is left.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { type AnyActorRef, createMachine } from "xstate"
import { ClientSession, type ClientSessionOptions } from "../../src/client/ClientSession.ts"
import { callTool as callToolEffect, McpClient } from "../../src/client/effect.ts"
import { McpError } from "../../src/protocol/errors.ts"
import { createLeanActor, observeActorCreation } from "../../src/runtime/ActorScheduler.ts"
import { makeRegistryUnsafe, Registry } from "../../src/runtime/Registry.ts"
import type { SessionHandle } from "../../src/runtime/SessionHandle.ts"
import { supervise, type Supervised } from "../../src/runtime/supervise.ts"
import { Supervisor } from "../../src/runtime/Supervisor.ts"
import { type Clock as XStateClock, makeEffectClock } from "../../src/runtime/XStateClock.ts"
import { McpServerService, serveSupervised } from "../../src/server/effect.ts"
import { McpServer } from "../../src/server/McpServer.ts"
import type { RequestContext } from "../../src/server/RequestContext.ts"
import type { ServerSession } from "../../src/server/ServerSession.ts"
import type { CallToolResult } from "../../src/server/types.ts"
import { type CallRecord, FiberInterrupted, Invariants, type Violation } from "./Invariants.ts"
import { makePrng, type Prng } from "./Prng.ts"
import { type NetworkProfile, type SimLink, SimNetwork } from "./SimNetwork.ts"
import { guardRealTime, type RealTimeApi } from "./RealTimeGuard.ts"
import { Trace } from "./Trace.ts"

/** A network profile plus how often faults are injected. */
export interface Profile extends NetworkProfile {
  /** Time between fault draws, [min, max] ms; undefined: no faults. */
  readonly chaosEveryMs: readonly [number, number] | undefined
  readonly faults: ReadonlyArray<readonly [number, Fault]>
}
type Fault =
  | "crash-client-end"
  | "crash-server-end"
  | "stall"
  | "server-crash"
  | "close-server-session"
  | "hibernate"
  | "list-changed"
  | "resource-updated"
  | "none"

export const PROFILES: ReadonlyArray<Profile> = [
  {
    name: "calm",
    minDelayMs: 1, maxDelayMs: 5, dropRate: 0, duplicateRate: 0, fifo: true, halfOpenRate: 0,
    chaosEveryMs: undefined, faults: []
  },
  {
    // Ordered, lossless streams (stdio, WebSocket) that stall, reset and lose their server.
    name: "stream",
    minDelayMs: 1, maxDelayMs: 40, dropRate: 0, duplicateRate: 0, fifo: true, halfOpenRate: 0.3,
    chaosEveryMs: [500, 4_000],
    faults: [[3, "crash-client-end"], [3, "crash-server-end"], [4, "stall"], [1, "server-crash"], [2, "close-server-session"], [1, "list-changed"], [2, "hibernate"], [1, "resource-updated"], [4, "none"]]
  },
  {
    name: "lossy",
    minDelayMs: 1, maxDelayMs: 80, dropRate: 0.02, duplicateRate: 0.02, fifo: false, halfOpenRate: 0.3,
    chaosEveryMs: [1_000, 6_000],
    faults: [[2, "crash-client-end"], [2, "crash-server-end"], [3, "stall"], [1, "server-crash"], [2, "close-server-session"], [1, "list-changed"], [2, "hibernate"], [1, "resource-updated"], [4, "none"]]
  },
  {
    name: "hostile",
    minDelayMs: 0, maxDelayMs: 300, dropRate: 0.1, duplicateRate: 0.05, fifo: false, halfOpenRate: 0.5,
    chaosEveryMs: [300, 2_000],
    faults: [[3, "crash-client-end"], [3, "crash-server-end"], [3, "stall"], [1, "server-crash"], [2, "close-server-session"], [1, "list-changed"], [2, "hibernate"], [1, "resource-updated"], [2, "none"]]
  }
]

export type Sabotage = "misroute" | "double-send" | "drop-clear" | "stuck-handler" | "stray-actor"

export interface SimOptions {
  readonly seed: number
  readonly clients?: number
  /** Virtual time during which clients act and faults happen; the teardown follows. */
  readonly durationMs?: number
  /** Force a profile by name (default: drawn from the seed). */
  readonly profile?: string
  /** Keep the trace lines (the hash is computed either way). */
  readonly keepTrace?: boolean
  /** Stop at the first violation (the default; `false` collects them all). */
  readonly stopOnViolation?: boolean
  /**
   * Break the harness on purpose, to prove the invariants can fail: deliver a
   * server's responses to another link (`misroute`), count a server response
   * as written twice (`double-send`), let client sessions' clocks forget
   * `clearTimeout` (`drop-clear`), run a handler that ignores cancellation
   * and never ends (`stuck-handler`), or start an actor nobody stops
   * (`stray-actor`).
   */
  readonly sabotage?: Sabotage
  /** Also make calls that ask for progress (default true). */
  readonly progress?: boolean
}

export interface SimReport {
  readonly seed: number
  readonly profile: string
  readonly clients: number
  readonly hash: string
  readonly steps: number
  readonly virtualMs: number
  readonly calls: number
  /** Progress notifications that reached a callback. */
  readonly progress: number
  readonly outcomes: Readonly<Record<string, number>>
  readonly faults: Readonly<Record<string, number>>
  readonly connections: number
  readonly actors: number
  readonly draws: number
  readonly violations: ReadonlyArray<Violation>
  /** `Date.now` reads by the runtime's own code, per call site (informational: never behaviour). */
  readonly wallClockReads: Readonly<Record<string, number>>
  readonly trace: ReadonlyArray<string>
}

const DEFAULT_CLIENTS = 4
const RESOURCE_URI = "sim://resource"
/** How long the `sample` tool waits for the client's sampling answer. */
const SAMPLING_TIMEOUT_MS = 1_500
const DEFAULT_DURATION_MS = 30_000

/** An xstate clock over `inner` that knows which of its timers are still pending. */
const countedClock = (inner: XStateClock, options: { readonly dropClear?: boolean } = {}) => {
  const live = new Set<{ inner: unknown }>()
  const clock: XStateClock = {
    now: () => inner.now(),
    setTimeout: (fn: (...args: Array<any>) => void, ms: number) => {
      const handle: { inner: unknown } = { inner: undefined }
      live.add(handle)
      handle.inner = inner.setTimeout(() => {
        live.delete(handle)
        fn()
      }, ms)
      return handle
    },
    clearTimeout: (handle: { inner: unknown } | undefined) => {
      if (handle === undefined || options.dropClear) return
      live.delete(handle)
      inner.clearTimeout(handle.inner)
    }
  }
  return { clock, pending: () => live.size }
}

const describe = (e: unknown): string => (e instanceof Error ? `${(e as { _tag?: string })._tag ?? e.name}: ${e.message}` : String(e))

interface HandlerRun {
  readonly session: string | undefined
  readonly requestId: string
  readonly signal: AbortSignal
  done: boolean
}

interface ClientConnection {
  readonly label: string
  readonly link: SimLink
  ended: boolean
  session: ClientSession | undefined
}

interface SimClient {
  readonly index: number
  incarnations: number
  callCount: number
  supervised: Supervised | undefined
  scope: Scope.Closeable | undefined
  current: ClientConnection | undefined
}

type Op = "echo" | "slow" | "cancel" | "interrupt" | "progress" | "sample" | "fail" | "ping" | "list" | "subscribe" | "close" | "idle"
const OPS: ReadonlyArray<readonly [number, Op]> = [
  [30, "echo"], [20, "slow"], [8, "cancel"], [5, "interrupt"], [8, "sample"], [4, "fail"], [5, "ping"], [5, "list"], [3, "subscribe"], [3, "close"],
  [4, "idle"]
]
/** By default (`progress` not false): calls that ask for progress notifications too. */
const OPS_WITH_PROGRESS: ReadonlyArray<readonly [number, Op]> = [...OPS, [8, "progress"]]

/** A TestClock's pending sleeps (Effect internals: checked, so a change in Effect fails loudly). */
type SleepList = ReadonlyArray<{ readonly timestamp: number }>
const sleepsOf = (clock: Clock.Clock): SleepList => {
  const sleeps = (clock as unknown as { readonly sleeps?: unknown }).sleeps
  if (!Array.isArray(sleeps)) {
    throw new Error("TestClock internals changed: no `sleeps` array; the simulation driver reads it to jump to the next timer")
  }
  return sleeps as SleepList
}

const settleRounds = async (mark: () => number): Promise<void> => {
  let last = mark()
  let stable = 0
  for (let i = 0; i < 200 && stable < 2; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve))
    const m = mark()
    if (m === last) stable++
    else {
      stable = 0
      last = m
    }
  }
}

const simulate = (o: SimOptions, rng: Prng, realTime: RealTimeSink) =>
  Effect.gen(function*() {
    const clients = o.clients ?? DEFAULT_CLIENTS
    const durationMs = o.durationMs ?? DEFAULT_DURATION_MS
    const stopOnViolation = o.stopOnViolation ?? true
    const testClock = (yield* Clock.Clock) as TestClock.TestClock
    const sleeps = sleepsOf(testClock)
    const now = () => testClock.currentTimeMillisUnsafe()
    const trace = new Trace(now, { keep: o.keepTrace ?? true })
    const inv = new Invariants(now, trace)
    const profile = o.profile === undefined ? rng.pick(PROFILES) : PROFILES.find((p) => p.name === o.profile)
    if (profile === undefined) throw new RangeError(`unknown profile ${o.profile}; known: ${PROFILES.map((p) => p.name).join(", ")}`)
    trace.record("sim.start", `seed ${o.seed} profile ${profile.name} clients ${clients} duration ${durationMs}`)
    const wallClockReads = new Map<string, number>()
    realTime.onUse = (api, site) => {
      if (api === "Date.now") wallClockReads.set(site, (wallClockReads.get(site) ?? 0) + 1)
      else inv.fail("real-time", `${api} called from ${site}: the runtime used a real timer`)
    }

    const actors: Array<AnyActorRef> = []
    const stopObserving = observeActorCreation((actor) => void actors.push(actor))
    const world = yield* Scope.make("sequential")
    yield* Effect.addFinalizer(() => Effect.sync(stopObserving))
    if (o.sabotage === "stray-actor") {
      const stray = createLeanActor(createMachine({ initial: "running", states: { running: {} } }))
      stray.start()
      yield* Effect.addFinalizer(() => Effect.sync(() => stray.stop()))
    }

    // ------------------------------------------------------------ runtime: registry + supervisor
    const registryUnsafe = makeRegistryUnsafe()
    const registry = Registry.fromUnsafe(registryUnsafe)
    const supervisor = yield* Supervisor.make({ drainMs: 500, closeGraceMs: 500 }).pipe(
      Effect.provideService(Registry, registry),
      Scope.provide(world)
    )

    const baseClock = yield* makeEffectClock.pipe(Scope.provide(world))
    const harness = countedClock(baseClock)
    const network = new SimNetwork(rng, harness.clock, now, trace, profile)
    const lossless = profile.dropRate === 0 && profile.duplicateRate === 0
    network.observe(inv)
    if (o.sabotage === "misroute" || o.sabotage === "double-send") network.sabotage = o.sabotage
    const faults: Record<string, number> = {}

    /** A virtual sleep for handlers, ended early (rejected) by `signal`. */
    const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason)
        const onAbort = () => {
          harness.clock.clearTimeout(timer)
          reject(signal!.reason)
        }
        const timer = harness.clock.setTimeout(() => {
          signal?.removeEventListener("abort", onAbort)
          resolve()
        }, ms)
        signal?.addEventListener("abort", onAbort, { once: true })
      })

    // ------------------------------------------------------------ the server
    const handlers: Array<HandlerRun> = []
    const handlersBySession = new Map<string | undefined, Array<HandlerRun>>()
    const track = <A>(ctx: RequestContext, run: () => Promise<A>): Promise<A> => {
      const h: HandlerRun = { session: ctx.sessionId, requestId: JSON.stringify(ctx.requestId), signal: ctx.signal, done: false }
      handlers.push(h)
      const list = handlersBySession.get(h.session) ?? []
      list.push(h)
      handlersBySession.set(h.session, list)
      return run().finally(() => void (h.done = true))
    }
    const reply = (args: Record<string, unknown>, ctx: RequestContext): CallToolResult => ({
      content: [{ type: "text", text: JSON.stringify({ tag: args.tag, session: ctx.sessionId }) }]
    })
    const taggedInput = { type: "object", properties: { tag: { type: "string" }, ms: { type: "number" } }, required: ["tag"] }
    const server = new McpServer({ name: "sim", version: "1.0.0" })
      .tool({ name: "echo", inputSchema: taggedInput }, (args, ctx) => reply(args, ctx))
      .tool({ name: "slow", inputSchema: taggedInput }, (args, ctx) =>
        track(ctx, async () => {
          if (o.sabotage === "stuck-handler") await new Promise<never>(() => {})
          await sleep(Number(args.ms), ctx.signal)
          return reply(args, ctx)
        }))
      .tool({ name: "steps", inputSchema: taggedInput }, (args, ctx) =>
        track(ctx, async () => {
          // Three progress notifications spread over the work, then the result.
          for (let step = 1; step <= 3; step++) {
            await sleep(Math.round(Number(args.ms) / 3), ctx.signal)
            ctx.progress(step, 3)
          }
          return reply(args, ctx)
        }))
      .tool({ name: "sample", inputSchema: taggedInput }, (args, ctx) =>
        track(ctx, async () => {
          await ctx.createMessage(
            { messages: [{ role: "user", content: { type: "text", text: String(args.tag) } }], maxTokens: 5, simDelayMs: args.ms },
            { timeoutMs: SAMPLING_TIMEOUT_MS, signal: ctx.signal }
          )
          return reply(args, ctx)
        }))
      .tool({ name: "fail", inputSchema: taggedInput }, () => {
        throw new McpError(-32000, "the fail tool failed")
      })
      .resource({ uri: RESOURCE_URI, name: "sim" }, (uri) => ({ contents: [{ uri, text: "sim" }] }))

    const runServer = yield* FiberSet.makeRuntime<Supervisor | McpServerService>().pipe(
      Effect.provideService(McpServerService, server),
      Effect.provideService(Supervisor, supervisor),
      Scope.provide(world)
    )
    const idleTimeoutMs = rng.pick([0, 4_000, 8_000])
    const earlyRequests = rng.pick(["reject", "accept"] as const)
    const handshakeTimeoutMs = rng.pick([0, 1_000, 3_000])
    const keepalive = rng.chance(0.75)
    const shutdownFirst = rng.chance(0.5)
    // The SDK-interop progress barrier (a ping round trip before a response that followed progress).
    const progressBarrier = rng.chance(0.5)
    trace.record(
      "sim.options",
      `idleTimeoutMs ${idleTimeoutMs} earlyRequests ${earlyRequests} handshakeTimeoutMs ${handshakeTimeoutMs} keepalive ${keepalive} shutdownFirst ${shutdownFirst} progressBarrier ${progressBarrier}`
    )

    network.listen((endpoint) => {
      const id = `srv-${endpoint.link.id}`
      const counted = countedClock(baseClock)
      const entry: { session: ServerSession | undefined; ended: boolean } = { session: undefined, ended: false }
      inv.addTimerOwner({ label: id, ended: () => entry.ended, pendingTimers: counted.pending })
      inv.watchSession({
        label: id,
        ended: () => entry.ended,
        leftovers: () => {
          const running = (handlersBySession.get(id) ?? []).filter((h) => !h.done && !h.signal.aborted)
          if (entry.session!.inFlightCount > 0) return `${entry.session!.inFlightCount} request(s) in flight`
          if (running.length > 0) return `${running.length} handler(s) still running un-aborted (${running.map((h) => h.requestId).join(", ")})`
          return undefined
        }
      })
      runServer(
        serveSupervised(endpoint, {
          id,
          clock: counted.clock,
          now,
          idleTimeoutMs,
          handshakeTimeoutMs,
          earlyRequests,
          progressBarrier: () => progressBarrier,
          drainTimeoutMs: 1_000,
          requestTimeoutMs: 2_000,
          drainMs: 500
        }).pipe(
          Effect.tap((session) =>
            Effect.sync(() => {
              entry.session = session
              trace.record("server.session", id)
              void session.ended.then((end) => {
                entry.ended = true
                endedIds.add(id)
                trace.record("server.end", `${id} ${end.expected ? "expected" : "unexpected"} ${end.reason}`)
              })
            })
          )
        )
      )
    })

    // The registry lists exactly the live sessions, and what it says of a client's
    // requests in flight matches the calls still waiting for their answer.
    const endedIds = new Set<string>()
    const clientLabels = new Map<string, string>()
    inv.addStepCheck("registry", () => {
      for (const handle of registryUnsafe.handles()) {
        if (endedIds.has(handle.id)) return `the registry still lists ${clientLabels.get(handle.id) ?? handle.id}, which has ended`
        const label = clientLabels.get(handle.id)
        if (label === undefined) continue
        const waiting = inv.waiting(label)
        const inFlight = handle.info().inFlight
        if (inFlight !== waiting) return `${label}: the registry says ${inFlight} request(s) in flight, ${waiting} call(s) are waiting`
      }
      return undefined
    })

    // ------------------------------------------------------------ clients
    const restartPolicy = { baseDelayMs: 100, factor: 2, maxDelayMs: 2_000, jitter: 0.2, resetAfterMs: 5_000, maxRestarts: 6, windowMs: 10_000 }

    const clientOptions = (clock: XStateClock): ClientSessionOptions => ({
      clientInfo: { name: "sim-client", version: "1.0.0" },
      clock,
      now,
      initializeTimeoutMs: 2_000,
      closeTimeoutMs: 1_000,
      requestTimeoutMs: 5_000,
      keepalive: keepalive && { intervalMs: 1_500, timeoutMs: 1_000, maxMisses: 2 },
      onNotification: (n) => trace.record("client.notification", n.method),
      onSampling: async (params, ctx) => {
        await sleep(Number(params?.simDelayMs ?? 0), ctx.signal)
        return { role: "assistant", model: "sim", content: { type: "text", text: "ok" } }
      }
    })

    const connectClient = (c: SimClient): Effect.Effect<SessionHandle, unknown, Scope.Scope> =>
      Effect.gen(function*() {
        const label = `c${c.index}.${++c.incarnations}`
        const counted = countedClock(yield* makeEffectClock, { dropClear: o.sabotage === "drop-clear" })
        const endpoint = network.connect(label)
        const conn: ClientConnection = { label, link: endpoint.link, ended: false, session: undefined }
        inv.addTimerOwner({ label, ended: () => conn.ended, pendingTimers: counted.pending })
        trace.record("client.connect", `${label} ${endpoint.link.id}`)
        const session = yield* Effect.acquireRelease(
          Effect.tryPromise({ try: () => ClientSession.connect(endpoint, clientOptions(counted.clock)), catch: (e) => e }),
          (s) =>
            Effect.promise(async () => {
              await s.close({ drainMs: 300 })
              await endpoint.close()
            })
        ).pipe(
          Effect.tapError((e) =>
            Effect.sync(() => {
              conn.ended = true
              trace.record("client.connect-failed", `${label} ${describe(e)}`)
            })
          )
        )
        conn.session = session
        c.current = conn
        clientLabels.set(session.id, label)
        void session.ended.then((end) => {
          conn.ended = true
          endedIds.add(session.id)
          trace.record("client.end", `${label} ${end.expected ? "expected" : "unexpected"} ${end.reason}`)
        })
        inv.watchSession({
          label,
          ended: () => conn.ended,
          leftovers: () => {
            const inFlight = session.info().inFlight
            if (inFlight > 0) return `${inFlight} request(s) in flight`
            const open = inv.calls.filter((call) => call.client === label && call.settled === undefined)
            if (open.length > 0) return `${open.length} call(s) never settled (#${open.map((call) => call.n).join(", #")})`
            return undefined
          }
        })
        yield* registry.register(session)
        trace.record("client.ready", `${label} ${session.protocolVersion}`)
        return session
      })

    const ensureSupervised = (c: SimClient) =>
      Effect.gen(function*() {
        const status = c.supervised?.getStatus()._tag
        if (status !== undefined && status !== "stopped" && status !== "parked") return
        if (status !== undefined) trace.record("client.supervision", `c${c.index} ${status}`)
        if (c.scope !== undefined) yield* Scope.close(c.scope, Exit.void)
        const scope = yield* Scope.fork(world, "sequential")
        c.scope = scope
        c.supervised = yield* supervise(connectClient(c), restartPolicy, { drainMs: 300, closeGraceMs: 200 }).pipe(Scope.provide(scope))
      })

    const stopClient = (c: SimClient) =>
      Effect.gen(function*() {
        c.current?.link.disturbed.push([now(), Infinity])
        if (c.supervised !== undefined) yield* c.supervised.stop({ drainMs: 300, reason: "client stopped" })
        if (c.scope !== undefined) yield* Scope.close(c.scope, Exit.void)
        c.supervised = undefined
        c.scope = undefined
      })

    const call = (c: SimClient, op: Op) => {
      const session = c.supervised?.current() as ClientSession | undefined
      const conn = c.current
      if (session === undefined || conn === undefined || conn.session !== session) {
        trace.record("client.skip", `c${c.index} ${op}: no session`)
        return
      }
      const tag = `${conn.label}/${++c.callCount}`
      const timeoutMs = rng.between(300, 4_000)
      const ms = rng.between(10, 3_000)
      const sampleMs = rng.between(1, 2_000)
      // Lossless network: the longest the answer can take (round trips at the slowest delay, plus the work).
      const trip = 2 * profile.maxDelayMs
      const work = op === "slow" || op === "interrupt" ? ms : op === "sample" ? Math.min(sampleMs + trip, SAMPLING_TIMEOUT_MS) : 0
      // Progress calls: the response may be held back after progress (an SDK interop workaround), so no budget.
      const budgetMs = lossless && op !== "cancel" && op !== "progress" ? work + trip + 2 : undefined
      // Progress restarts a call's deadline, up to its hard maximum (10 × the timeout by default).
      const deadline = now() + (op === "progress" ? 10 * timeoutMs : timeoutMs)
      const begin = (method: string) =>
        inv.begin({ client: conn.label, link: conn.link, kind: op, method, tag, deadline, expectSession: `srv-${conn.link.id}`, budgetMs })
      let record: CallRecord
      let promise: Promise<unknown>
      switch (op) {
        case "echo":
          record = begin("tools/call")
          promise = session.callTool("echo", { tag }, { timeoutMs })
          break
        case "slow":
          record = begin("tools/call")
          promise = session.callTool("slow", { tag, ms }, { timeoutMs })
          break
        case "progress": {
          const r = begin("tools/call")
          record = r
          promise = session.callTool("steps", { tag, ms }, { timeoutMs, onProgress: (p) => inv.progress(r, p.progress) })
          break
        }
        case "cancel": {
          record = begin("tools/call")
          const controller = new AbortController()
          const timer = harness.clock.setTimeout(() => controller.abort(new Error("cancelled by the simulation")), rng.between(1, 1_500))
          promise = session.callTool("slow", { tag, ms }, { timeoutMs, signal: controller.signal })
          promise.then(() => harness.clock.clearTimeout(timer), () => harness.clock.clearTimeout(timer))
          break
        }
        case "interrupt": {
          // The Effect API: interrupting the call's fiber cancels the request.
          record = begin("tools/call")
          const controller = new AbortController()
          const timer = harness.clock.setTimeout(() => controller.abort(), rng.between(1, 1_500))
          promise = Effect.runPromiseExit(
            callToolEffect("slow", { tag, ms }, { timeoutMs }).pipe(Effect.provide(McpClient.fromSession(session))),
            { signal: controller.signal }
          ).then((exit) => {
            harness.clock.clearTimeout(timer)
            if (Exit.isSuccess(exit)) return exit.value
            throw Cause.hasInterruptsOnly(exit.cause) ? new FiberInterrupted() : Cause.squash(exit.cause)
          })
          break
        }
        case "sample":
          record = begin("tools/call")
          promise = session.callTool("sample", { tag, ms: sampleMs }, { timeoutMs })
          break
        case "fail":
          record = begin("tools/call")
          promise = session.callTool("fail", { tag }, { timeoutMs })
          break
        case "ping":
          record = begin("ping")
          promise = session.ping({ timeoutMs })
          break
        case "subscribe":
          record = begin("resources/subscribe")
          promise = session.subscribeResource(RESOURCE_URI, { timeoutMs })
          break
        default:
          record = begin("tools/list")
          promise = session.listTools({ timeoutMs })
      }
      promise.then((ok) => inv.settle(record, { ok }), (error) => inv.settle(record, { error }))
    }

    const script = (c: SimClient) =>
      Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(rng.between(0, 400))
          if (now() >= durationMs) return
          yield* ensureSupervised(c)
          const op = rng.weighted(o.progress === false ? OPS : OPS_WITH_PROGRESS)
          if (op === "close") {
            trace.record("client.close", `c${c.index}`)
            yield* stopClient(c)
          } else if (op === "idle") {
            const ms = rng.between(3_000, 9_000)
            trace.record("client.idle", `c${c.index} ${ms}`)
            yield* Effect.sleep(ms)
          } else call(c, op)
        }
      })

    const chaos = Effect.gen(function*() {
      const every = profile.chaosEveryMs
      if (every === undefined) return
      while (true) {
        yield* Effect.sleep(rng.between(every[0], every[1]))
        if (now() >= durationMs) return
        const fault = rng.weighted(profile.faults)
        const live = network.links.filter((l) => !l.ends.client.ending && !l.ends.server.ending)
        if (fault !== "server-crash" && fault !== "none" && live.length === 0) continue
        faults[fault] = (faults[fault] ?? 0) + 1
        switch (fault) {
          case "crash-client-end":
            network.crash(rng.pick(live), "client")
            break
          case "crash-server-end":
            network.crash(rng.pick(live), "server")
            break
          case "stall":
            network.stall(rng.pick(live), rng.between(100, 3_000))
            break
          case "server-crash":
            network.crashServer(rng.between(200, 3_000))
            break
          case "close-server-session": {
            // The server ends one session gracefully (an operator, a policy): drain, then cancel.
            const link = rng.pick(live)
            const drainMs = rng.between(0, 1_500)
            link.disturbed.push([now(), Infinity])
            trace.record("server.close", `srv-${link.id} drain ${drainMs}`)
            void supervisor.get(`srv-${link.id}`)?.close({ drainMs, reason: "closed by the server" })
            break
          }
          case "list-changed": {
            // Every operating session tells its client (notifications/tools/list_changed).
            const name = `extra-${faults[fault]}`
            trace.record("server.tool", name)
            server.tool({ name }, () => ({ content: [] }))
            break
          }
          case "hibernate": {
            // What the HTTP server's sweeper does to idle sessions; here under live traffic and faults.
            const link = rng.pick(live)
            const session = supervisor.get(`srv-${link.id}`) as ServerSession | undefined
            trace.record("server.hibernate", `srv-${link.id} ${session?.hibernate() ?? "absent"}`)
            break
          }
          case "resource-updated":
            trace.record("server.resource-updated", RESOURCE_URI)
            server.resourceUpdated(RESOURCE_URI)
            break
          case "none":
            break
        }
      }
    })

    const simClients: Array<SimClient> = Array.from({ length: clients }, (_, index) => ({
      index,
      incarnations: 0,
      callCount: 0,
      supervised: undefined,
      scope: undefined,
      current: undefined
    }))
    const scripts = yield* Effect.forEach(simClients, (c) => Effect.forkIn(script(c), world))
    const chaosFiber = yield* Effect.forkIn(chaos, world)
    let finaleDone = false
    yield* Effect.forkIn(
      Effect.gen(function*() {
        yield* Fiber.joinAll([...scripts, chaosFiber])
        network.stopListening()
        const stopClients = Effect.forEach(simClients, stopClient, { concurrency: "unbounded", discard: true })
        const shutdown = supervisor.shutdown({ drainMs: 500, reason: "simulation over" })
        // Either end may go first: a server shutting down under live clients, or clients leaving first.
        trace.record("sim.finale", shutdownFirst ? "supervisor shuts down, then clients stop" : "clients stop, then supervisor shuts down")
        if (shutdownFirst) {
          yield* shutdown
          yield* stopClients
        } else {
          yield* stopClients
          yield* shutdown
        }
        finaleDone = true
        trace.record("sim.finale", "done")
      }),
      world
    )

    // ------------------------------------------------------------ the driver
    let steps = 0
    const settle = Effect.promise(() => settleRounds(() => trace.count + sleeps.length + network.scheduled))
    const drive = (done: () => boolean, capMs: number, what: string) =>
      Effect.gen(function*() {
        let idle = 0
        while (true) {
          yield* settle
          inv.checkStep()
          if (stopOnViolation && inv.violations.length > 0) return false
          const next = sleeps.length > 0 ? sleeps[sleeps.length - 1]!.timestamp : undefined
          if (next === undefined) {
            if (done()) return true
            if (++idle > 20) {
              inv.fail("liveness", `${what}: nothing is scheduled, yet it never finished (a promise nobody settles)`)
              return false
            }
            continue
          }
          if (done() && what !== "run") return true
          idle = 0
          if (next > capMs) {
            inv.fail("quiescence", `${what}: timers still pending at ${capMs} ms (next at ${next})`)
            return false
          }
          yield* testClock.setTime(next)
          steps++
        }
      })

    const finished = yield* drive(() => finaleDone, durationMs + 120_000, "run")
    if (finished) {
      const active = actors.filter((a) => a.getSnapshot().status === "active").length
      const stats = yield* supervisor.stats
      inv.checkEnd({
        "registry size": registryUnsafe.size,
        "supervisor sessions": stats.sessions,
        "supervisor watchers": stats.watchers,
        "supervisor scope entries": stats.scopeEntries,
        "TestClock sleeps": sleeps.length,
        "network events scheduled": network.scheduled,
        "open links": network.openLinks().length,
        "running actors": active,
        "harness timers": harness.pending(),
        "server change listeners": server.changeListenerCount,
        "handlers running": handlers.filter((h) => !h.done).length
      })
    }

    // Release the world (scopes of clients and supervisor, clock fibers) while time still moves.
    const closing = yield* Effect.forkDetach(Scope.close(world, Exit.void))
    let closed = false
    void Effect.runPromise(Fiber.await(closing)).then(() => (closed = true))
    if (finished) yield* drive(() => closed, now() + 60_000, "teardown")

    const outcomes: Record<string, number> = {}
    for (const c of inv.calls) {
      const key = c.settled === undefined ? "unsettled" : c.settled.outcome.split(" ")[0]!
      outcomes[key] = (outcomes[key] ?? 0) + 1
    }
    trace.record("sim.end", `steps ${steps} calls ${inv.calls.length} violations ${inv.violations.length}`)
    const report: SimReport = {
      seed: o.seed,
      profile: profile.name,
      clients,
      hash: trace.digest(),
      steps,
      virtualMs: now(),
      calls: inv.calls.length,
      progress: inv.progressSeen,
      outcomes,
      faults,
      connections: network.links.length,
      actors: actors.length,
      draws: rng.draws,
      violations: inv.violations,
      wallClockReads: Object.fromEntries(wallClockReads),
      trace: trace.lines
    }
    return report
  })

/** Run one seeded scenario to its end; resolves with the report (violations included, never rejects on them). */
export const runSimulation = async (options: SimOptions): Promise<SimReport> => {
  const rng = makePrng(options.seed)
  const realTime: RealTimeSink = { onUse: () => {} }
  const unguard = guardRealTime((api, site) => realTime.onUse(api, site))
  const random: Random.Random = {
    nextIntUnsafe: () => rng.int(Number.MAX_SAFE_INTEGER),
    nextDoubleUnsafe: () => rng.next()
  }
  try {
    return await Effect.runPromise(
      simulate(options, rng, realTime).pipe(
        Effect.scoped,
        Effect.provideService(Random.Random, random),
        Effect.provide(TestClock.layer({ warningDelay: "1 hour" }))
      )
    )
  } finally {
    unguard()
  }
}

interface RealTimeSink {
  onUse: (api: RealTimeApi, site: string) => void
}

/** The one-line command that replays a seed. */
export const reproCommand = (o: Pick<SimOptions, "seed" | "clients" | "durationMs" | "profile" | "progress" | "sabotage">): string =>
  `npm run sim -- --seed ${o.seed}` +
  (o.clients !== undefined ? ` --clients ${o.clients}` : "") +
  (o.durationMs !== undefined ? ` --duration ${o.durationMs}` : "") +
  (o.profile !== undefined ? ` --profile ${o.profile}` : "") +
  (o.progress === false ? " --no-progress" : "") +
  (o.sabotage !== undefined ? ` --sabotage ${o.sabotage}` : "")
