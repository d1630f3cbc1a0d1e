/**
 * One fuzz campaign against one transport's real server: fast-check generates
 * windows of hostile frames (seeded), a fuzzer sends them and judges every
 * reply with the oracle. Used by the vitest suites (`test/fuzz.*.test.ts`) and
 * by `npm run fuzz` (`fuzz/main.ts`).
 *
 * Shrinking is off (`endOnFailure`): the server's state carries over from one
 * window to the next, so a shrunk window would run against another state. The
 * failing frame is replayed alone on a new connection instead (the report says
 * whether it reproduces there), and the seed replays the whole campaign.
 */
import fc from "fast-check"
import { frameArb } from "./frames.ts"
import { LEGACY_VERSIONS } from "./oracle.ts"
import { HttpFuzzer } from "./HttpFuzzer.ts"
import { MessageFuzzer, type Window } from "./MessageFuzzer.ts"
import type { FuzzStats } from "./report.ts"
import { type ServerProcess, spawnNetworkServer, spawnStdioServer, stdioConnection, untilServing, wsConnection } from "./servers.ts"

export type Transport = "stdio" | "ws" | "http"

export interface CampaignOptions {
  readonly transport: Transport
  /** At least this many frames. */
  readonly frames: number
  readonly seed: number
  /** Frames per window (one fast-check run). Default 50. */
  readonly windowSize?: number
  readonly maxMessageBytes?: number
  readonly timeoutMs?: number
  /** stdio: frames per server process at least (a new session costs a process). Default 500. */
  readonly framesPerProcess?: number
  readonly onProgress?: (stats: FuzzStats) => void
}

export interface CampaignResult {
  readonly transport: Transport
  readonly seed: number
  readonly stats: FuzzStats
  readonly durationMs: number
  /** fast-check's failure report (seed, path, counterexample, error), if any. */
  readonly failure: string | undefined
  /** The server's exit status when it was stopped at the end (null: still up until then). */
  readonly serverExit: string
}

export const windowArb = (size: number, maxMessageBytes: number, batches: boolean): fc.Arbitrary<Window> =>
  fc.record({
    fresh: fc.nat(5).map((n) => n === 0),
    frames: fc.array(frameArb({ maxMessageBytes, batches }), { minLength: size, maxLength: size }),
    rolls: fc.array(fc.nat(99), { minLength: size, maxLength: size }),
    version: fc.constantFrom(...LEGACY_VERSIONS)
  })

export const runCampaign = async (options: CampaignOptions): Promise<CampaignResult> => {
  const maxMessageBytes = options.maxMessageBytes ?? 131_072
  const windowSize = options.windowSize ?? 50
  const started = Date.now()
  const processes: Array<ServerProcess> = []
  let network: ServerProcess | undefined
  let fuzzer: MessageFuzzer | HttpFuzzer
  if (options.transport === "stdio") {
    fuzzer = new MessageFuzzer({
      transport: "stdio",
      maxMessageBytes,
      minFramesPerConnection: options.framesPerProcess ?? 500,
      maxHandshakeAgeMs: 20_000,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      open: async () => {
        const p = spawnStdioServer({ maxMessageBytes })
        processes.push(p)
        const conn = stdioConnection(p)
        // A process's start-up is not a frame's reply deadline (the first run under load took longer than 15 s).
        await untilServing(conn, 180_000)
        return conn
      }
    })
  } else if (options.transport === "ws") {
    network = await spawnNetworkServer("ws", { maxMessageBytes })
    const url = network.url
    fuzzer = new MessageFuzzer({
      transport: "ws",
      maxMessageBytes,
      checkFreshConnection: true,
      maxHandshakeAgeMs: 3_000,
      server: { alive: () => network!.child.exitCode === null && network!.child.signalCode === null, stderr: () => network!.stderr() },
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      open: () => wsConnection(url)
    })
  } else {
    network = await spawnNetworkServer("http", { maxMessageBytes })
    fuzzer = new HttpFuzzer({ url: network.url, maxMessageBytes, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) })
  }
  let failure: string | undefined
  try {
    const runs = Math.ceil(options.frames / windowSize)
    const details = await fc.check<[Window]>(
      fc.asyncProperty(windowArb(windowSize, maxMessageBytes, true), async (w) => {
        await fuzzer.runWindow(w)
        options.onProgress?.(fuzzer.stats)
      }),
      { seed: options.seed, numRuns: runs, endOnFailure: true }
    )
    if (details.failed) {
      const e = details.errorInstance
      failure = `${e instanceof Error ? e.message : String(e)}\n(fast-check seed ${details.seed}, path "${details.counterexamplePath ?? ""}": rerun with --seed ${details.seed})`
    }
    // Closing checks too: nothing unexplained left on the connection, a stdio server exits 0 on EOF.
    if (failure === undefined) await fuzzer.close().catch((e: unknown) => void (failure = e instanceof Error ? e.message : String(e)))
  } finally {
    await fuzzer.close().catch(() => {})
  }
  let serverExit = "ok"
  for (const p of [...processes, ...(network ? [network] : [])]) {
    const alive = p.child.exitCode === null && p.child.signalCode === null
    const code = await p.stop()
    // A stdio server exits 0 on stdin EOF; a network server on SIGTERM. Anything else is a crash.
    if (!alive && code !== 0) serverExit = `exited ${String(code)}: ${p.stderr().slice(-1_000)}`
  }
  return { transport: options.transport, seed: options.seed, stats: fuzzer.stats, durationMs: Date.now() - started, failure, serverExit }
}
