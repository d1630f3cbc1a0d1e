/**
 * A stdio server's last words: what it wrote before it exited is delivered before
 * the close is reported. Node may report a child's exit before it has read the
 * last of its stdout (seen under a terminal, 1 run in 16: the probe's frame was
 * dropped as "written after the close"). Here the race is made certain: the
 * leader exits at once, and a process that left its group (setsid, so the reaper
 * does not end it) writes the frame on the inherited stdout only once the test has
 * seen the exit (a line on a fifo). The transport's graces run on a simulated clock.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { SimulatedClock } from "xstate"
import { makeStdioClientTransport, type StdioClientOptions } from "../src/transports/stdioClient.ts"
import type { TransportClosed } from "../src/transports/Transport.ts"

const dir = mkdtempSync(join(tmpdir(), "mcp-exit-last-frames-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const escaped: Array<number> = []
afterEach(() => {
  for (const pid of escaped.splice(0)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
})

let fifos = 0
const run = (options: Omit<StdioClientOptions, "command" | "args" | "env">, writer: string) => {
  const fifo = join(dir, `go-${fifos++}`)
  execFileSync("mkfifo", [fifo])
  const events: Array<string> = []
  let closed: TransportClosed | undefined
  const clock = new SimulatedClock()
  const env = { ...process.env, FIFO: fifo, FRAME: `{"jsonrpc":"2.0","method":"last"}` }
  // The leader waits (on a second fifo) until the writer has left its group, prints the writer's pid on
  // stderr and exits 0: the reaper then ends the group, not the writer.
  const args = ["-c", `f=$(mktemp -u); mkfifo "$f"; setsid sh -c 'echo > "$0"; ${writer}' "$f" & read _ < "$f"; rm -f "$f"; echo "pid $!" >&2; exit 0`]
  const transport = makeStdioClientTransport({ stderr: "pipe", ...options, command: "sh", args, env, clock })
  let pidSeen!: () => void
  const pid = new Promise<void>((resolve) => (pidSeen = resolve))
  transport.stderr?.setEncoding("utf8").on("data", (d: string) => {
    for (const m of d.matchAll(/pid (\d+)/g)) escaped.push(Number(m[1]))
    if (escaped.length > 0) pidSeen()
  })
  const done = new Promise<void>((resolve) =>
    transport.start({
      onFrame: (text) => events.push(`frame ${JSON.parse(text).method}`),
      onOversized: () => events.push("oversized"),
      onClose: (c) => {
        closed = c
        events.push("close")
        resolve()
      }
    })
  )
  /** Let the writer go on (it reads one line from its fifo). */
  const go = () => writeFileSync(fifo, "go\n")
  return { transport, events, done, closed: () => closed, clock, go, pid }
}

const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

describe.each([
  ["through the process-group shim", {}],
  ["detached (a new session)", { newSession: true }]
] as const)("stdio client transport, %s", (_name, mode) => {
  it("frames written after the server's exit was seen, before stdout closed, come before the close", async () => {
    const { transport, events, done, closed, go } = run({ ...mode, closeGraceMs: 60_000 }, `read _ < "$FIFO"; printf "%s\\n" "$FRAME"`)
    await transport.exited // the transport saw the leader's exit; the writer has written nothing yet
    go()
    await done
    expect(events).toEqual(["frame last", "close"])
    expect(closed()).toMatchObject({ expected: false, exitCode: 0, reason: "server process exited with code 0" })
    await transport.close()
  })

  it("a stdout held open after the exit delays the close by closeGraceMs (on the transport's clock) at most", async () => {
    const { transport, events, done, closed, clock, pid } = run({ ...mode, closeGraceMs: 60_000 }, `read _ < "$FIFO"`)
    await transport.exited
    await pid
    await turns()
    expect(events).toEqual([]) // stdout is still open: the close waits
    clock.increment(60_000)
    await done
    expect(events).toEqual(["close"])
    expect(closed()).toMatchObject({ expected: false, exitCode: 0 })
    for (const p of escaped.splice(0)) process.kill(p, "SIGKILL") // its stdout closes: close() has nothing left to wait for
    await transport.close()
  })
})
