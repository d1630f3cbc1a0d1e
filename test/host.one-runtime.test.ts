/**
 * A host runs on its own runtime alone: its upstream clients (their era probe, their deadlines) take the host's
 * clock, and no other runtime is made for them. A file of its own: the process's default runtime is made lazily,
 * once per process, so only a process that has not made it yet can tell whether the host did.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { AnyActorRef, InspectionEvent } from "xstate"
import { startHost } from "../src/host/McpHost.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { hostReaches } from "./support/hostEvents.ts"

const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

describe("a host's runtimes", () => {
  it("a host with a dual-era upstream makes no runtime but its own (the era probe ran on the process's default one)", async () => {
    // Every runtime's root is made while the hub listens, so each reports its `@xstate.actor`.
    const roots: Array<AnyActorRef> = []
    const stop = inspection.subscribe((e: InspectionEvent) => {
      const ref = e.actorRef as AnyActorRef & { readonly logic?: { readonly id?: string }; readonly _parent?: unknown }
      if (e.type === "@xstate.actor" && ref.logic?.id === "runtime" && ref._parent === undefined) roots.push(ref)
    }, { kinds: ["@xstate.actor"] })
    const host = await startHost({ mcpServers: { demo: { command: process.execPath, args: [CLI, "serve", "--stdio"] } } }, { stateFile: false, onStderr: () => {} })
    try {
      expect(await hostReaches(host, () => host.tools().some((t) => t.name === "demo__echo"), 15_000)).toBe(true)
      expect((await host.callTool("demo__echo", { text: "one runtime" })).isError).not.toBe(true)
      expect(roots).toEqual([host.runtime.root])
    } finally {
      await host.close()
      stop()
    }
  }, 30_000)
})
