/**
 * Restart supervision of a stdio client (`runSupervisedClient`) belongs to a
 * runtime: each connection it makes is a supervised node of the runtime's tree
 * (listed in its registry, role `client`), and the runtime's shutdown stops the
 * supervision itself (status `stopped`) with no `stop()` from the caller —
 * also while it waits out a backoff, when no session is there to be closed.
 *
 * A real child process (our CLI's stdio server): the test awaits its events
 * (statuses, the child's exit), never time.
 */
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import type { AnyActorRef } from "xstate"
import { runSupervisedClient } from "../src/client/superviseClient.ts"
import { makeMcpRuntime } from "../src/runtime/McpRuntime.ts"
import type { StdioClientTransport } from "../src/transports/stdioClient.ts"
import { chartOf, parentOf } from "./support/actorTree.ts"
import { processesOf } from "./support/processes.ts"

const BIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))
const CWD = fileURLToPath(new URL("..", import.meta.url))



const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe("runSupervisedClient lives in its runtime", () => {
  it("its session is a node of the runtime's tree; the runtime's shutdown stops supervision in backoff", async () => {
    const runtime = makeMcpRuntime()
    cleanups.push(() => runtime.shutdown({ drainMs: 0 }))
    const supervised = runSupervisedClient({
      command: process.execPath,
      args: [BIN, "serve", "--stdio"],
      cwd: CWD,
      stderr: "ignore",
      runtime,
      // A backoff far longer than the test: only the runtime's shutdown can end it.
      policy: { baseDelayMs: 600_000, maxDelayMs: 600_000, jitter: 0 }
    })
    cleanups.push(() => supervised.stop({ drainMs: 0 }))
    const client = await supervised.ready()
    const transport = client.transport as StdioClientTransport
    const pid = transport.pid!
    expect(processesOf(pid)).not.toEqual([])
    // The running session: a node of this runtime's tree and an entry of its registry.
    expect(runtime.registry.list().map((i) => i.role)).toEqual(["client"])
    const session = client.client as unknown as { chart: AnyActorRef }
    const node = parentOf(session.chart)!
    expect(chartOf(node)).toBe("connection")
    expect(parentOf(node)).toBe(runtime.root)

    // The child dies: its session's node is released, and supervision waits out its backoff.
    const inBackoff = new Promise<void>((resolve) => {
      const unsubscribe = supervised.subscribe((s) => s._tag === "backoff" && (unsubscribe(), resolve()))
    })
    process.kill(pid, "SIGKILL")
    await transport.exited
    await inBackoff
    expect(processesOf(pid)).toEqual([])
    expect(runtime.registry.size).toBe(0)

    await runtime.shutdown({ drainMs: 500, reason: "runtime done" })
    expect(await supervised.done).toEqual({ _tag: "stopped", reason: "supervision stopped" })
    expect(supervised.session()).toBeUndefined()
    expect(node.getSnapshot().status).not.toBe("active")
    expect(runtime.registry.size).toBe(0)
  })
})
