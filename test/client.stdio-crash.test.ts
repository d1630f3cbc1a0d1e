/**
 * A stdio server that dies under us: our client on our demo server
 * (`src/cli/main.ts serve --stdio`) as a real child; `kill -9` mid-call.
 * Then the same under supervision (`src/client/superviseClient.ts`): the
 * session is replaced by a fresh one, and a server that cannot start parks
 * supervision instead of respawning it forever.
 *
 * Real processes, so real time; the restart policy's delays are tens of
 * milliseconds and every test stays well under 2 s of waiting.
 */
import { fileURLToPath } from "node:url"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Client } from "../src/client/Client.ts"
import { connectStdio } from "../src/client/connectStdio.ts"
import { ConnectionLost, InitializeFailed, SessionClosed } from "../src/protocol/requestErrors.ts"
import { runSupervisedClient, superviseClient, type SupervisedClientHandle, SupervisionEnded } from "../src/client/superviseClient.ts"
import type { SupervisionStatus } from "../src/runtime/supervise.ts"
import type { StdioClientTransport } from "../src/transports/stdioClient.ts"
import { processesOf } from "./support/processes.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))
const DEMO = { command: process.execPath, args: [BIN, "serve", "--stdio"], cwd: CWD, stderr: "ignore" } as const


const pidOf = (session: Client): number => {
  const pid = (session.transport as StdioClientTransport).pid
  if (pid === undefined) throw new Error("no child pid")
  return pid
}

const textOf = (result: { readonly [k: string]: unknown }): string =>
  (result.content as ReadonlyArray<{ readonly text: string }>)[0]!.text

const tagOf = (s: SupervisionStatus): string =>
  s._tag === "connecting" ? `connecting(${s.attempt})` : s._tag === "backoff" ? `backoff(${s.attempt},${s.delayMs})` : s._tag

/** The first status (current included) that satisfies `predicate`. */
const statusWhere = (client: SupervisedClientHandle, predicate: (s: SupervisionStatus) => boolean): Promise<SupervisionStatus> =>
  new Promise((resolve) => {
    if (predicate(client.status())) return resolve(client.status())
    const unsubscribe = client.subscribe((s) => {
      if (!predicate(s)) return
      unsubscribe()
      resolve(s)
    })
  })

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

describe("kill -9 of a stdio server mid-call", () => {
  it("the call rejects at once with ConnectionLost, the session ends dead, no child is left", async () => {
    const session = await connectStdio(DEMO)
    const transport = session.transport as StdioClientTransport
    cleanup.push(() => transport.close())
    const pid = pidOf(session)
    expect(processesOf(pid).length).toBeGreaterThan(0)
    expect(textOf(await session.callTool("echo", { text: "alive" }))).toBe("alive")

    const slow = session.callTool("slow", { ms: 60_000 }, { timeoutMs: 120_000 }).then(
      () => expect.unreachable("slow must not succeed"),
      (e: unknown) => e
    )
    // Our server answers in order: once this ping is back, `slow` is running in the child.
    await session.ping()
    expect(session.info().inFlight).toBe(1)

    const killedAt = performance.now()
    process.kill(pid, "SIGKILL")
    const error = await slow
    const latencyMs = performance.now() - killedAt
    expect(error).toBeInstanceOf(ConnectionLost)
    expect((error as ConnectionLost).method).toBe("tools/call")
    expect((error as Error).message).toMatch(/killed by SIGKILL/)
    // Failed fast: on the child's exit, not on any of the request's deadlines.
    expect(latencyMs).toBeLessThan(1_000)

    expect(await session.ended).toEqual({ expected: false, reason: "server process killed by SIGKILL" })
    expect(session.state).toBe("dead")
    expect(session.chart.getSnapshot().output).toMatchObject({ expected: false, failure: { _tag: "TransportLost" } })
    expect(await transport.exited).toEqual({ exitCode: null, signal: "SIGKILL" })
    await expect(session.callTool("echo", { text: "x" })).rejects.toBeInstanceOf(SessionClosed)

    await transport.close()
    expect(processesOf(pid)).toEqual([])
  })
})

describe("superviseClient: restart after kill -9", () => {
  it("Promise face: backoff → running with a new session that answers echo; stop reaps the child", async () => {
    const history: Array<SupervisionStatus> = []
    const client = runSupervisedClient({
      ...DEMO,
      policy: { baseDelayMs: 50, jitter: 0, maxRestarts: 5, windowMs: 10_000 },
      onStatus: (s) => void history.push(s)
    })
    cleanup.push(() => client.stop({ drainMs: 500 }))

    const first = await client.ready()
    expect(client.session()).toBe(first)
    expect(textOf(await first.callTool("echo", { text: "one" }))).toBe("one")
    const firstPid = pidOf(first)

    const inFlight = first.callTool("slow", { ms: 60_000 }).catch((e: unknown) => e)
    await first.ping()
    process.kill(firstPid, "SIGKILL")
    expect(await inFlight).toBeInstanceOf(ConnectionLost)
    const next = client.ready()

    const backoff = await statusWhere(client, (s) => s._tag === "backoff")
    expect(backoff).toMatchObject({ _tag: "backoff", attempt: 1, delayMs: 50 })
    expect(backoff._tag === "backoff" && backoff.lastError).toEqual({ expected: false, reason: "server process killed by SIGKILL" })
    expect(first.state).toBe("dead")

    // Asked right after the kill, ready() skipped the dead session and waited for its replacement.
    const second = await next
    const running = client.status()
    expect(running._tag === "running" && running.handle).toBe(second)
    expect(second).not.toBe(first)
    expect(textOf(await second.callTool("echo", { text: "two" }))).toBe("two")
    const secondPid = pidOf(second)
    expect(secondPid).not.toBe(firstPid)
    expect(processesOf(firstPid)).toEqual([])

    await client.stop({ drainMs: 500, reason: "test done" })
    expect(await client.done).toEqual({ _tag: "stopped", reason: "test done" })
    expect(history.map(tagOf)).toEqual(["connecting(0)", "running", "backoff(1,50)", "connecting(1)", "running", "stopped"])
    expect(second.state).toBe("closed")
    expect((await (second.transport as StdioClientTransport).exited).signal).toBeNull()
    expect(processesOf(secondPid)).toEqual([])
    expect(client.session()).toBeUndefined()
    const ended = await client.ready().catch((e: unknown) => e)
    expect(ended).toBeInstanceOf(SupervisionEnded)
    expect(ended).toMatchObject({ _tag: "SupervisionEnded", status: "stopped", reason: "test done" })
  }) // two real server start-ups, every wait event-driven: the suite's limit for real processes (vitest.config)

  it("Effect face: closing the owning scope stops supervision and reaps the running child", async () => {
    const scope = Effect.runSync(Scope.make())
    cleanup.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
    const client = await Effect.runPromise(Scope.provide(scope)(superviseClient({ ...DEMO, policy: { jitter: 0 } })))
    const session = await Effect.runPromise(client.ready)
    expect(textOf(await session.callTool("echo", { text: "effect" }))).toBe("effect")
    const pid = pidOf(session)

    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(client.status()).toMatchObject({ _tag: "stopped" })
    expect(session.state).toBe("closed")
    expect(await session.ended).toMatchObject({ expected: true })
    expect(processesOf(pid)).toEqual([])
  })
})

describe("superviseClient: a server that never comes up", () => {
  it("exits immediately every time → parked with the crash-loop reason (Effect face, real time < 2 s)", async () => {
    const history: Array<SupervisionStatus> = []
    const startedAt = performance.now()
    const final = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const client = yield* superviseClient({
            command: "sh",
            args: ["-c", "exit 3"],
            stderr: "ignore",
            policy: { baseDelayMs: 20, factor: 2, maxDelayMs: 100, jitter: 0, maxRestarts: 3, windowMs: 60_000 },
            onStatus: (s) => void history.push(s)
          })
          const done = yield* client.done
          // Nothing runs any more, and waiting for a session fails at once.
          const ready = yield* Effect.flip(client.ready)
          expect(ready).toMatchObject({ _tag: "SupervisionEnded", status: "parked", reason: expect.stringMatching(/^crash loop/) })
          expect(client.session()).toBeUndefined()
          return done
        })
      )
    )
    const elapsedMs = performance.now() - startedAt
    expect(final._tag).toBe("parked")
    if (final._tag !== "parked") return
    expect(final.reason).toMatch(/^crash loop: 4 failures within 60000 ms \(limit 3\); last: connect failed: /)
    expect(final.reason).toMatch(/server process exited with code 3/)
    expect(final.lastError).toBeInstanceOf(InitializeFailed)
    expect(history.map(tagOf)).toEqual([
      "connecting(0)",
      "backoff(1,20)",
      "connecting(1)",
      "backoff(2,40)",
      "connecting(2)",
      "backoff(3,80)",
      "connecting(3)",
      "parked"
    ])
    expect(elapsedMs).toBeLessThan(2_000)
  })
})
