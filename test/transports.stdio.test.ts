import { readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PassThrough } from "node:stream"
import { fileURLToPath } from "node:url"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { condition } from "./support/condition.ts"
import { waitFor } from "./support/waitFor.ts"
import { childProcesses } from "./support/handles.ts"
import { encode, request } from "../src/protocol/jsonrpc.ts"
import {
  makeStdioClientTransport,
  processGroupAlive,
  SpawnError,
  type StdioClientOptions,
  StdioClientTransport
} from "../src/transports/stdioClient.ts"
import { makeStdioServerTransport, StdioServerTransport } from "../src/transports/stdioServer.ts"
import type { TransportClosed, TransportHandlers } from "../src/transports/Transport.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const node = process.execPath

/** What a transport delivered; `when(check, what)` resolves at the delivery after which `check` holds (no polling). */
const recorder = () => {
  const frames: Array<string> = []
  const oversized: Array<number> = []
  const closes: Array<TransportClosed & { at: number; framesBefore: number }> = []
  const { changed, when } = condition()
  const handlers: TransportHandlers = {
    onFrame: (text) => (frames.push(text), changed()),
    onOversized: (bytes) => (oversized.push(bytes), changed()),
    onClose: (closed) => (closes.push({ ...closed, at: Date.now(), framesBefore: frames.length }), changed())
  }
  return { frames, oversized, closes, handlers, when }
}

/** Poll `predicate` (OS state of a process that is not our child: no event exists) until true; fails after `timeoutMs`. */
const waitUntil = (predicate: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> => waitFor(predicate, { timeoutMs, what })

/** Alive and not a zombie (this container's PID 1 does not reap orphans). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const state = stat.slice(stat.lastIndexOf(")") + 2)[0]
    return state !== "Z" && state !== "X"
  } catch {
    return false
  }
}


/** Handles a child process holds (timers are left out: vitest holds some of its own). */
const resourceCounts = () => {
  const counts = { ProcessWrap: 0, PipeWrap: 0 }
  for (const r of process.getActiveResourcesInfo()) {
    if (r === "ProcessWrap" || r === "PipeWrap") counts[r]++
  }
  return counts
}

const frameOf = (frames: Array<string>, method: string) =>
  frames.map((f) => JSON.parse(f)).find((m) => m.method === method)

const startClient = (options: StdioClientOptions) => {
  const transport = makeStdioClientTransport(options)
  const rec = recorder()
  transport.start(rec.handlers)
  return { transport, ...rec }
}

describe("stdio client transport", () => {
  it("round-trips frames through a child (cat), batching a turn's sends, then closes gracefully", async () => {
    const { transport, when, frames, closes } = startClient({ command: "cat" })
    await transport.spawned
    expect(transport.pid).toBeGreaterThan(0)
    expect(transport.authoritativeLiveness).toBe(true)
    const sent = Array.from({ length: 64 }, (_, i) => request(i, "tools/call", { text: `é${i}😀` }))
    for (const m of sent) transport.send(m)
    await when(() => frames.length === 64, "64 echoed frames")
    expect(frames).toEqual(sent.map(encode))
    const t0 = Date.now()
    await transport.close()
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(await transport.exited).toEqual({ exitCode: 0, signal: null })
    expect(closes).toHaveLength(1)
    expect(closes[0]).toMatchObject({ expected: true, reason: "closed", exitCode: 0, signal: null })
    expect(processGroupAlive(transport.pid!)).toBe(false)
  })

  it("a node server exits on stdin EOF within the close grace; stderr lines reach the callback", async () => {
    const stderrLines: Array<string> = []
    const { transport, when, frames, closes } = startClient({
      command: node,
      args: [fixture("echo-lines.mjs")],
      stderr: (line) => stderrLines.push(line),
      closeGraceMs: 5000
    })
    transport.send(request(1, "first", { a: 1 }))
    transport.send(request(2, "second"))
    await when(() => frames.length === 2, "two replies")
    expect(frames.map((f) => JSON.parse(f))).toEqual([
      { jsonrpc: "2.0", id: 1, result: { echo: { a: 1 } } },
      { jsonrpc: "2.0", id: 2, result: { echo: null } }
    ])
    await transport.close()
    expect(await transport.exited).toEqual({ exitCode: 0, signal: null }) // no signal: it left on EOF
    expect(stderrLines).toEqual(["stderr: first", "stderr: second"])
    expect(closes.map((c) => c.expected)).toEqual([true])
  })

  // The close and kill graces run on the transport's clock: a simulated one here, so the test
  // decides when each grace ends (no wall-clock bounds); the child is a real process.
  const settleTurns = async (n = 20) => {
    for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }

  it("escalates to SIGTERM when the child ignores stdin EOF, after closeGraceMs on the transport's clock", async () => {
    const clock = new SimulatedClock()
    const { transport, when, frames } = startClient({
      command: node,
      args: [fixture("stubborn.mjs")],
      // A minute: on real time this test would time out, so passing proves the grace ran on `clock`.
      closeGraceMs: 60_000,
      termGraceMs: 2000,
      clock
    })
    await when(() => frameOf(frames, "ready") !== undefined, "ready")
    const closing = transport.close()
    await settleTurns()
    clock.increment(59_999)
    await settleTurns()
    expect(isAlive(transport.pid!)).toBe(true) // still inside the close grace: no signal yet
    clock.increment(1)
    expect(await transport.exited).toEqual({ exitCode: null, signal: "SIGTERM" })
    // The child has exited and its group is empty: what close() still awaits is the pipes'
    // 'close' (real I/O), with no grace left on the clock to run.
    await closing
  })

  it("escalates to SIGKILL when the child also ignores SIGTERM, after termGraceMs more", async () => {
    const clock = new SimulatedClock()
    const { transport, when, frames, closes } = startClient({
      command: node,
      args: [fixture("stubborn.mjs"), "--ignore-term"],
      closeGraceMs: 60_000,
      termGraceMs: 60_000,
      clock
    })
    await when(() => frameOf(frames, "ready") !== undefined, "ready")
    const closing = transport.close()
    await settleTurns()
    clock.increment(60_000) // close grace over: SIGTERM, which the child ignores
    await settleTurns()
    clock.increment(59_999)
    await settleTurns()
    expect(isAlive(transport.pid!)).toBe(true) // still inside the kill grace
    clock.increment(1)
    expect(await transport.exited).toEqual({ exitCode: null, signal: "SIGKILL" })
    // The child has exited and its group is empty: what close() still awaits is the pipes'
    // 'close' (real I/O), with no grace left on the clock to run.
    await closing
    expect(closes).toHaveLength(1)
    expect(closes[0]).toMatchObject({ expected: true, signal: "SIGKILL" })
  })

  it("close() kills the whole process group, grandchildren included", async () => {
    const { transport, when, frames } = startClient({
      command: node,
      args: [fixture("grandchild.mjs")],
      closeGraceMs: 100,
      termGraceMs: 200
    })
    await when(() => frameOf(frames, "grandchild") !== undefined, "grandchild pid")
    const grandchild: number = frameOf(frames, "grandchild").params.pid
    expect(isAlive(grandchild)).toBe(true)
    await transport.close()
    expect((await transport.exited).signal).toBe("SIGTERM")
    expect(isAlive(grandchild)).toBe(false)
    expect(processGroupAlive(transport.pid!)).toBe(false)
  })

  it("reaps grandchildren left behind by a child that exits gracefully", async () => {
    const { transport, when, frames } = startClient({
      command: node,
      args: [fixture("grandchild.mjs"), "--exit-on-eof"],
      closeGraceMs: 2000,
      termGraceMs: 200
    })
    await when(() => frameOf(frames, "grandchild") !== undefined, "grandchild pid")
    const grandchild: number = frameOf(frames, "grandchild").params.pid
    await transport.close()
    expect(await transport.exited).toEqual({ exitCode: 0, signal: null })
    expect(isAlive(grandchild)).toBe(false)
  })

  it("SIGKILLs leftover grandchildren that ignore SIGTERM, after termGraceMs", async () => {
    const { transport, when, frames } = startClient({
      command: node,
      args: [fixture("grandchild.mjs"), "--exit-on-eof", "--stubborn"],
      closeGraceMs: 2000,
      termGraceMs: 150
    })
    await when(() => frameOf(frames, "grandchild") !== undefined, "grandchild pid")
    const grandchild: number = frameOf(frames, "grandchild").params.pid
    // The fixture reports the pid only once the grandchild's shell has set SIGTERM to ignored
    // (a disposition that survives its exec of sleep).
    const t0 = Date.now()
    await transport.close()
    const elapsed = Date.now() - t0
    expect(await transport.exited).toEqual({ exitCode: 0, signal: null })
    expect(isAlive(grandchild)).toBe(false)
    expect(elapsed).toBeGreaterThanOrEqual(140) // SIGTERM was ignored: SIGKILL after the grace
    expect(elapsed).toBeLessThan(1500)
  })

  it("kill -9 of the child mid-stream ends the transport at once, unexpected, and reaps its group", async () => {
    const { transport, when, frames, closes } = startClient({
      command: node,
      args: [fixture("grandchild.mjs")],
      termGraceMs: 200
    })
    await when(() => frameOf(frames, "grandchild") !== undefined, "grandchild pid")
    const grandchild: number = frameOf(frames, "grandchild").params.pid
    for (let i = 0; i < 10; i++) transport.send(request(i, "ping"))
    const killedAt = Date.now()
    process.kill(transport.pid!, "SIGKILL")
    await when(() => closes.length > 0, "onClose")
    expect(closes[0]!.at - killedAt).toBeLessThan(500)
    expect(closes[0]).toMatchObject({ expected: false, exitCode: null, signal: "SIGKILL" })
    expect(closes[0]!.reason).toContain("SIGKILL")
    // Leftovers of the group are reaped without waiting for close().
    await waitUntil(() => !isAlive(grandchild), 2000, "grandchild reaped")
    transport.send(request(99, "ping")) // dropped, no throw
    await transport.close()
    expect(closes).toHaveLength(1) // exactly once
    expect(frames.length).toBe(closes[0]!.framesBefore)
  })

  it("an unexpected clean exit is reported with its exit code", async () => {
    const { transport, when, closes } = startClient({ command: "sh", args: ["-c", "exit 3"] })
    await when(() => closes.length > 0, "onClose")
    expect(closes[0]).toMatchObject({ expected: false, exitCode: 3, signal: null })
    await transport.close()
    expect(closes).toHaveLength(1)
  })

  it("reports an ended transport to handlers started late", async () => {
    const transport = makeStdioClientTransport({ command: "sh", args: ["-c", "exit 0"] })
    await transport.exited
    const rec = recorder()
    transport.start(rec.handlers)
    expect(rec.closes).toHaveLength(1)
    expect(rec.closes[0]!.expected).toBe(false)
    await transport.close()
  })

  it("reports frames over maxMessageBytes from the child as oversized", async () => {
    const { transport, when, frames, oversized } = startClient({ command: "cat", maxMessageBytes: 100 })
    transport.send(request(1, "big", { text: "w".repeat(200) }))
    transport.send(request(2, "small"))
    await when(() => frames.length === 1, "small frame")
    expect(JSON.parse(frames[0]!).id).toBe(2)
    expect(oversized).toEqual([encode(request(1, "big", { text: "w".repeat(200) })).length])
    await transport.close()
  })

  it("a missing command: `spawned` rejects with SpawnError and the transport ends unexpected", async () => {
    const { transport, closes } = startClient({ command: "/nonexistent/mcp-server-xyz" })
    const error = await transport.spawned.then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(SpawnError)
    expect((error as SpawnError)._tag).toBe("SpawnError")
    expect((error as SpawnError).command).toBe("/nonexistent/mcp-server-xyz")
    expect((error as SpawnError).message).toContain("ENOENT")
    expect(transport.pid).toBeUndefined()
    await transport.close()
    expect(closes).toHaveLength(1)
    expect(closes[0]).toMatchObject({ expected: false })
    expect(closes[0]!.reason).toContain("spawn failed")
  })

  it("a missing working directory is named, not reported as the command's ENOENT (Node's wording)", async () => {
    const cwd = join(tmpdir(), `mcp-actors-no-such-dir-${process.pid}`)
    for (const newSession of [false, true]) {
      const { transport, closes } = startClient({ command: process.execPath, args: ["-e", ""], cwd, newSession })
      const error = await transport.spawned.then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(SpawnError)
      expect((error as SpawnError).message).toBe(`spawn ${process.execPath} ENOENT: working directory ${cwd} does not exist`)
      await transport.close()
      expect(closes[0]!.reason).toBe(`spawn failed: ${(error as SpawnError).message}`)
    }
  })

  it("StdioClientTransport.make fails with a typed SpawnError", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(StdioClientTransport.make({ command: "no-such-mcp-server-command-xyz" }))
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = await Effect.runPromise(
      Effect.scoped(StdioClientTransport.make({ command: "no-such-mcp-server-command-xyz" })).pipe(Effect.flip)
    )
    expect(error).toBeInstanceOf(SpawnError)
    expect(error.command).toBe("no-such-mcp-server-command-xyz")
  })

  it("StdioClientTransport.make waits for the spawn and closes the child with the scope", async () => {
    const rec = recorder()
    const { pid, exited } = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const transport = yield* StdioClientTransport.make({ command: "cat" })
      expect(isAlive(transport.pid)).toBe(true)
      transport.start(rec.handlers)
      transport.send(request(1, "ping"))
      yield* Effect.promise(() => rec.when(() => rec.frames.length === 1, "the echo"))
      return { pid: transport.pid, exited: transport.exited }
    })))
    expect(await exited).toEqual({ exitCode: 0, signal: null })
    expect(isAlive(pid)).toBe(false)
    expect(rec.closes).toMatchObject([{ expected: true, reason: "closed" }])
  })

  it("drives a real server process built on makeStdioServerTransport; it exits by itself on stdin EOF", async () => {
    const stderrLines: Array<string> = []
    const { transport, when, frames } = startClient({
      command: node,
      args: [fixture("stdio-server-echo.ts")],
      stderr: (line) => stderrLines.push(line),
      closeGraceMs: 5000
    })
    for (let i = 0; i < 100; i++) transport.send(request(i, "tools/call", { i }))
    await when(() => frames.length === 100, "100 replies")
    expect(frames.map((f) => JSON.parse(f).result.echo.i)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    await transport.close()
    // No SIGTERM needed: the transport released stdin and the process exited on its own.
    expect(await transport.exited).toEqual({ exitCode: 0, signal: null })
    expect(stderrLines).toEqual(["closed stdin ended"])
  })

  it("leaks nothing over 50 spawn/close cycles and 10 kill -9 cycles", async () => {
    const baseline = resourceCounts()
    for (let i = 0; i < 50; i++) {
      const { transport, when, frames } = startClient({ command: "cat" })
      transport.send(request(i, "ping"))
      await when(() => frames.length === 1, "echo")
      await transport.close()
    }
    for (let i = 0; i < 10; i++) {
      const { transport, when, closes } = startClient({ command: "cat" })
      await transport.spawned
      process.kill(transport.pid!, "SIGKILL")
      await when(() => closes.length === 1, "onClose")
      expect(closes[0]!.expected).toBe(false)
      await transport.close()
    }
    for (let i = 0; i < 5; i++) {
      const { transport } = startClient({ command: "no-such-command-for-leak-test" })
      await transport.close()
    }
    expect(resourceCounts()).toEqual(baseline)
    expect(childProcesses()).toEqual([])
  }, 30_000)
})

describe("stdio server transport", () => {
  const streams = () => {
    const stdin = new PassThrough()
    const stdout = new PassThrough()
    const out: Array<string> = []
    let writes = 0
    const write = stdout.write.bind(stdout) as (chunk: unknown, ...rest: Array<unknown>) => boolean
    stdout.write = ((chunk: unknown, ...rest: Array<unknown>) => {
      writes++
      return write(chunk, ...rest)
    }) as typeof stdout.write
    const { changed, when } = condition()
    stdout.on("data", (chunk: Buffer) => (out.push(chunk.toString("utf8")), changed()))
    return { stdin, stdout, out, writes: () => writes, when }
  }

  it("reads frames split across chunks (multi-byte UTF-8 included) and batches a turn's replies into one write", async () => {
    const { stdin, stdout, out, writes, when } = streams()
    const transport = makeStdioServerTransport({ stdin, stdout })
    expect(transport.kind).toBe("stdio")
    expect(transport.authoritativeLiveness).toBe(true)
    const rec = recorder()
    transport.start({
      ...rec.handlers,
      onFrame: (text) => {
        rec.handlers.onFrame(text)
        const msg = JSON.parse(text)
        transport.send({ jsonrpc: "2.0", id: msg.id, result: { ok: msg.params.t } })
      }
    })
    const input = Buffer.from(
      Array.from({ length: 64 }, (_, i) => encode(request(i, "tools/call", { t: `ü${i}😀` }))).join("\r\n") + "\r\n"
    )
    // One chunk holds the first 40 requests, split in the middle of a multi-byte character.
    const cut = input.indexOf(Buffer.from("😀")) + 2
    stdin.write(input.subarray(0, cut))
    stdin.write(input.subarray(cut))
    await when(() => out.join("").split("\n").length === 65, "64 replies")
    expect(rec.frames).toHaveLength(64)
    // A write per 8 replies (`maxBatchFrames`), the rest at the end of each input chunk's turn: 40 + 24 replies.
    expect(writes()).toBe(8)
    const replies = out.join("").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))
    expect(replies.map((r) => r.result.ok)).toEqual(Array.from({ length: 64 }, (_, i) => `ü${i}😀`))
    await transport.close()
  })

  it("replies sent in one turn go out in writes of 8, the rest at the turn's end", async () => {
    const { stdin, stdout, out, writes } = streams()
    const transport = makeStdioServerTransport({ stdin, stdout })
    transport.start(recorder().handlers)
    for (let i = 0; i < 60; i++) transport.send({ jsonrpc: "2.0", id: i, result: {} })
    expect(writes()).toBe(7) // 56 replies: the peer starts on them while the turn goes on
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes()).toBe(8)
    expect(out.join("").split("\n")).toHaveLength(61)
    await transport.close()
  })

  it("stdin EOF ends the transport (expected), after delivering an unterminated last line", async () => {
    const { stdin, stdout } = streams()
    const transport = makeStdioServerTransport({ stdin, stdout })
    const rec = recorder()
    transport.start(rec.handlers)
    stdin.write("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\n{\"jsonrpc\":\"2.0\",\"method\":\"b\"}")
    stdin.end()
    await rec.when(() => rec.closes.length > 0, "onClose")
    expect(rec.frames).toHaveLength(2)
    expect(rec.closes).toMatchObject([{ expected: true, reason: "stdin ended" }])
    expect(rec.closes[0]!.framesBefore).toBe(2)
    await transport.close()
    expect(rec.closes).toHaveLength(1)
  })

  it("reports oversized lines and keeps going", async () => {
    const { stdin, stdout } = streams()
    const transport = makeStdioServerTransport({ stdin, stdout, maxMessageBytes: 32 })
    const rec = recorder()
    transport.start(rec.handlers)
    stdin.write("x".repeat(50))
    stdin.write("x".repeat(50) + "\n{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\n")
    await rec.when(() => rec.frames.length === 1, "frame")
    expect(rec.oversized).toEqual([100])
    await transport.close()
  })

  it("close() flushes pending output, releases its listeners and reports closed", async () => {
    const { stdin, stdout, out } = streams()
    const listeners = () => ["data", "end", "close", "error"].map((e) => stdin.listenerCount(e) + stdout.listenerCount(e))
    const before = listeners()
    const transport = makeStdioServerTransport({ stdin, stdout })
    const rec = recorder()
    transport.start(rec.handlers)
    expect(listeners()).not.toEqual(before)
    transport.send({ jsonrpc: "2.0", id: 1, result: {} })
    await transport.close() // before the batch's Immediate
    expect(out.join("")).toBe("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n")
    expect(listeners()).toEqual(before)
    expect(stdin.isPaused()).toBe(true)
    expect(rec.closes).toMatchObject([{ expected: true, reason: "closed" }])
    stdin.write("{\"jsonrpc\":\"2.0\",\"method\":\"late\"}\n")
    transport.send({ jsonrpc: "2.0", id: 2, result: {} })
    await new Promise((resolve) => setImmediate(resolve))
    expect(rec.frames).toEqual([])
    expect(out.join("")).not.toContain("\"id\":2")
  })

  it("a stdout error ends the transport as unexpected", async () => {
    const { stdin, stdout } = streams()
    const transport = makeStdioServerTransport({ stdin, stdout })
    const rec = recorder()
    transport.start(rec.handlers)
    stdout.destroy(Object.assign(new Error("broken pipe"), { code: "EPIPE" }))
    await rec.when(() => rec.closes.length > 0, "onClose")
    expect(rec.closes).toMatchObject([{ expected: false, reason: "stdout error: EPIPE" }])
    transport.send({ jsonrpc: "2.0", id: 1, result: {} }) // dropped, no throw
    await transport.close()
  })

  it("StdioServerTransport.make closes the transport with its scope", async () => {
    const { stdin, stdout } = streams()
    const rec = recorder()
    await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const transport = yield* StdioServerTransport.make({ stdin, stdout })
      transport.start(rec.handlers)
    })))
    expect(rec.closes).toMatchObject([{ expected: true, reason: "closed" }])
    expect(stdin.listenerCount("data")).toBe(0)
  })
})
