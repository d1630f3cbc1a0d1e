/**
 * The `httpClientSession` chart (re-initialize once when the server loses the
 * session, then give up): its paths by xstate/graph, and the same paths taken
 * by the production `HttpClientSession` over a real socket, against the
 * official SDK's Streamable HTTP server that forgets its sessions on demand.
 */
import { describe, expect, it } from "vitest"
import { createActor, initialTransition, transition, waitFor } from "xstate"
import { getShortestPaths, getSimplePaths } from "xstate/graph"
import { type HttpClientSessionEvent, httpClientSessionMachine } from "../machines/httpClientSession.ts"
import type { Client } from "../src/client/Client.ts"
import type { HttpClientSession } from "../src/client/HttpClientSession.ts"
import { connectHttp } from "../src/client/connectHttp.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import { SessionLost } from "../src/protocol/requestErrors.ts"
import { startSdkHttpServer } from "./fixtures/sdk-http-server.ts"
import { allStateIds } from "./support/eventOnlyTwin.ts"

/** The production session's generations chart, under the one `Client` `connectHttp` returns. */
const chart = (client: Client) => (client.client as HttpClientSession).chart

const LOST = (generation: number): HttpClientSessionEvent => ({ type: "SESSION_LOST", generation, reason: "404" })
const OPENED: HttpClientSessionEvent = { type: "GENERATION_OPENED" }
const FAILED: HttpClientSessionEvent = { type: "GENERATION_FAILED", reason: "refused" }
const SUCCEEDED: HttpClientSessionEvent = { type: "CALL_SUCCEEDED" }

/** Every event the shell can send, with the generations a short path can reach. */
const EVENTS: ReadonlyArray<HttpClientSessionEvent> = [
  LOST(1), LOST(2), LOST(3), OPENED, FAILED, SUCCEEDED,
  { type: "GENERATION_ENDED", generation: 1, expected: false, reason: "server went away" },
  { type: "CLOSE" },
  { type: "CLOSED", expected: true, reason: "closed" }
]

const run = (input: object, ...events: ReadonlyArray<HttpClientSessionEvent>) => {
  let [snapshot, actions] = initialTransition(httpClientSessionMachine, input)
  const states = [String(snapshot.value)]
  const effects = actions.map((a) => a.type)
  for (const event of events) {
    ;[snapshot, actions] = transition(httpClientSessionMachine, snapshot, event)
    effects.push(...actions.map((a) => a.type).filter((t) => t === "openGeneration" || t === "closeGeneration"))
    if (states.at(-1) !== String(snapshot.value)) states.push(String(snapshot.value))
  }
  return { snapshot, states, effects }
}

describe("httpClientSession chart: paths (xstate/graph)", () => {
  it("every state is reached, and every shortest path to `ended` after a loss went through `reinitializing` at most maxConsecutive times in a row", () => {
    const reached = new Set<string>()
    for (const path of getShortestPaths(httpClientSessionMachine, { input: {}, events: EVENTS as never, limit: 5_000 })) {
      reached.add(`httpClientSession.${String(path.state.value)}`)
    }
    expect([...reached].sort()).toEqual(allStateIds(httpClientSessionMachine).filter((id) => id !== "httpClientSession").sort())
  })

  it("no simple path re-initializes twice without a successful call in between (the loop guard)", () => {
    const paths = getSimplePaths(httpClientSessionMachine, { input: {}, events: EVENTS as never, limit: 20_000 })
    expect(paths.length).toBeGreaterThan(10)
    for (const path of paths) {
      let inARow = 0
      for (const step of path.steps) {
        const type = (step.event as HttpClientSessionEvent).type
        if (type === "CALL_SUCCEEDED") inARow = 0
        if (step.state.value === "reinitializing" && type === "SESSION_LOST") inARow++
        expect(inARow, path.steps.map((s) => `${(s.event as HttpClientSessionEvent).type}→${String(s.state.value)}`).join(" ")).toBeLessThanOrEqual(1)
      }
    }
  })

  it("loss → re-initialize once → loss again before any success → ended, giving up", () => {
    const { snapshot, states, effects } = run({}, OPENED, LOST(1), OPENED, LOST(2))
    expect(states).toEqual(["opening", "live", "reinitializing", "live", "ended"])
    expect(effects).toEqual(["openGeneration", "openGeneration"])
    expect(snapshot.output).toMatchObject({ expected: false, reason: expect.stringMatching(/giving up/) })
  })

  it("a successful call in between allows the next re-initialization; stale reports of a replaced generation are ignored", () => {
    const { snapshot, states } = run({}, OPENED, LOST(1), OPENED, LOST(1), SUCCEEDED, LOST(2), OPENED)
    expect(states).toEqual(["opening", "live", "reinitializing", "live", "reinitializing", "live"])
    expect(snapshot.context.generation).toBe(3)
  })

  it("a failed re-initialization ends the session; reinitialize: false ends it at the first loss", () => {
    expect(run({}, OPENED, LOST(1), FAILED).snapshot.output).toMatchObject({ expected: false, reason: expect.stringMatching(/re-initializing failed: refused/) })
    expect(run({ reinitialize: false }, OPENED, LOST(1)).states).toEqual(["opening", "live", "ended"])
  })

  it("CLOSE while re-initializing waits for the new generation, then closes it", () => {
    const { snapshot, states, effects } = run({}, OPENED, LOST(1), { type: "CLOSE" }, OPENED, { type: "CLOSED", expected: true, reason: "closed" })
    expect(states).toEqual(["opening", "live", "reinitializing", "closing", "closed"])
    expect(effects).toEqual(["openGeneration", "openGeneration", "closeGeneration"])
    expect(snapshot.output).toEqual({ expected: true, reason: "closed" })
  })

  it("runs as an actor with the shell's effects provided (the same named actions)", () => {
    const calls: Array<string> = []
    const actor = createActor(httpClientSessionMachine.provide({ actions: { openGeneration: () => void calls.push("open"), closeGeneration: () => void calls.push("close") } }), { input: {} }).start()
    actor.send(OPENED)
    actor.send({ type: "CLOSE" })
    actor.send({ type: "CLOSED", expected: true, reason: "closed" })
    expect(calls).toEqual(["open", "close"])
    expect(actor.getSnapshot().status).toBe("done")
  })
})

describe("httpClientSession chart: the production session takes the same path over a real socket", () => {
  it("SDK server forgets the session twice: live → reinitializing → live → (a call succeeds) → reinitializing → live; then twice with no success → ended", async () => {
    const server = await startSdkHttpServer({ noGet: true })
    const runtime = makeMcpRuntime()
    try {
      const client = await connectHttp(server.url, { runtime })
      const states: Array<string> = [String(chart(client).getSnapshot().value)]
      chart(client).subscribe((s) => {
        if (states.at(-1) !== String(s.value)) states.push(String(s.value))
      })
      await client.listTools() // learns that echo is read-only
      await server.forgetSessions()
      expect(await client.callTool("echo", { text: "a" })).toMatchObject({ content: [{ text: "a" }] })
      await server.forgetSessions()
      expect(await client.callTool("echo", { text: "b" })).toMatchObject({ content: [{ text: "b" }] })
      expect(client.generation).toBe(3)
      expect(states).toEqual(["live", "reinitializing", "live", "reinitializing", "live"])
      // The chart's own path for the same reports agrees.
      expect(run({}, OPENED, SUCCEEDED, LOST(1), OPENED, SUCCEEDED, LOST(2), OPENED, SUCCEEDED).states.slice(1)).toEqual(states)

      // Lost, re-initialized, lost again before anything succeeded on the new session: ended.
      await server.forgetSessions()
      const lost = client.callTool("increment").catch((e: unknown) => e) // not replay-safe: fails, and starts the re-initialization
      expect(await lost).toBeInstanceOf(SessionLost)
      await waitFor(chart(client), (s) => s.value === "live")
      await server.forgetSessions()
      expect(await client.listTools().catch((e: unknown) => e)).toBeInstanceOf(SessionLost)
      const end = await client.ended
      expect(end).toMatchObject({ expected: false, reason: expect.stringMatching(/giving up/) })
      expect(states.slice(-4)).toEqual(["live", "reinitializing", "live", "ended"])
      expect(server.stats.initialize).toBe(4)
      await client.close()
      expect(runtime.registry.size).toBe(0)
    } finally {
      await runtime.shutdown({ drainMs: 0 })
      await server.close()
    }
  }, 30_000)
})
