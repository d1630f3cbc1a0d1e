/**
 * A stdio server's last words: what it wrote before it exited is delivered before
 * the close is reported. Node may report a child's exit before it has read the
 * last of its stdout (seen under a terminal, 1 run in 16: the probe's frame was
 * dropped as "written after the close"). Here the race is made certain: the
 * leader exits at once, and a process that left its group (setsid, so the reaper
 * does not end it) writes the frame 200 ms later on the inherited stdout.
 */
import { execFileSync } from "node:child_process"
import { afterEach, describe, expect, it } from "vitest"
import { makeStdioClientTransport, type StdioClientOptions } from "../src/transports/stdioClient.ts"
import type { TransportClosed } from "../src/transports/Transport.ts"

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

const run = (options: StdioClientOptions) => {
  const events: Array<string> = []
  let closed: TransportClosed | undefined
  const transport = makeStdioClientTransport({ stderr: "pipe", ...options })
  // The escaped writer's pid, so that the test can end it whatever happens.
  transport.stderr?.setEncoding("utf8").on("data", (d: string) => {
    for (const m of d.matchAll(/pid (\d+)/g)) escaped.push(Number(m[1]))
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
  return { transport, events, done, closed: () => closed }
}

// The leader waits (on a fifo) until the writer has left its group, prints the writer's pid on
// stderr and exits 0: the reaper then ends the group, not the writer.
const escapeThenExit = (writer: string) => [
  "-c",
  `f=$(mktemp -u); mkfifo "$f"; setsid sh -c 'echo > "$0"; ${writer}' "$f" & read _ < "$f"; rm -f "$f"; echo "pid $!" >&2; exit 0`
]

describe.each([
  ["through the process-group shim", {}],
  ["detached (a new session)", { newSession: true }]
] as const)("stdio client transport, %s", (_name, mode) => {
  it("frames written after the server's exit was seen, before stdout closed, come before the close", async () => {
    const env = { ...process.env, FRAME: `{"jsonrpc":"2.0","method":"last"}` }
    const { transport, events, done, closed } = run({ ...mode, env, command: "sh", args: escapeThenExit(`sleep 0.2; printf "%s\\n" "$FRAME"`) })
    await done
    expect(events).toEqual(["frame last", "close"])
    expect(closed()).toMatchObject({ expected: false, exitCode: 0, reason: "server process exited with code 0" })
    await transport.close()
  })

  it("a stdout held open after the exit delays the close by closeGraceMs at most", async () => {
    const { transport, events, done, closed } = run({ ...mode, command: "sh", args: escapeThenExit("exec sleep 30"), closeGraceMs: 300 })
    const started = Date.now()
    await done
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(events).toEqual(["close"])
    expect(closed()).toMatchObject({ expected: false, exitCode: 0 })
    await transport.close()
    expect(escaped.length).toBe(1)
  })
})
