/**
 * Last words of a host's upstream (docs/reliability.md, "Last words and close ordering (s24)"):
 * a real stdio server that answers a call and exits at once. The host delivers the answer to
 * its caller (not `ServerConnectionLost`), then restarts the server; three generations in a row.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { startHost } from "../src/host/McpHost.ts"
import { hostReaches } from "./support/hostEvents.ts"

const FIXTURE = fileURLToPath(new URL("./fixtures/answer-then-exit.mjs", import.meta.url))

describe.each(["exit", "end"])("host: an upstream that answers and exits at once (MODE=%s)", (mode) => {
  it("each call gets its answer; the server is restarted after each exit", async () => {
    const host = await startHost({
      mcpServers: {
        ae: { command: process.execPath, args: [FIXTURE], env: { MODE: mode }, restart: { intensity: 100, backoff: { initialMs: 10, maxMs: 20 } } }
      }
    }, { stateFile: false })
    try {
      const server = () => host.status()[0]!
      let generation = 0
      for (let i = 0; i < 3; i++) {
        // A fresh generation each time: a call on the one that just exited would rightly fail.
        expect(await hostReaches(host, () => server().state === "ready" && server().generation > generation, 20_000)).toBe(true)
        generation = server().generation
        const logs: Array<unknown> = []
        const result = await host.callTool("ae__bye", {}, { onLog: (n) => void logs.push(n.params?.data) })
        expect(result.content).toEqual([{ type: "text", text: "last words" }])
        expect(logs).toEqual(["last log"])
      }
    } finally {
      await host.close()
    }
  }, 60_000)
})
