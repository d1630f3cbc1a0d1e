/**
 * A port that is taken: `makeHttpServer` and `makeWsServer` reject with the
 * listen error and let go of what they started for it (with `inspect`, the
 * inspector: its listener and its subscription to the inspection hub), as does
 * an inspector whose own port is taken (`startHost`'s); `mcp-actors serve
 * --ws PORT --inspect` exits 1. Before, the inspector lived on, and
 * `serve --http|--ws PORT --inspect` never exited. (The host's own ports:
 * test/cli.host.test.ts.)
 */
import { spawn } from "node:child_process"
import { type AddressInfo, createServer, type Server } from "node:net"
import { fileURLToPath } from "node:url"
import { describe, expect, it, onTestFinished } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { inspection } from "../src/runtime/inspection.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { startHost } from "../src/host/McpHost.ts"

const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))

const takePort = async (): Promise<{ readonly port: number; readonly taken: Server }> => {
  const taken = createServer()
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r))
  onTestFinished(() => void taken.close())
  return { port: (taken.address() as AddressInfo).port, taken }
}

describe("mcp-actors serve --ws PORT --inspect on a taken port", { timeout: 60_000 }, () => {
  it("says so and exits 1 (the inspector kept the process alive)", async () => {
    const { port } = await takePort()
    const child = spawn(process.execPath, [MAIN, "serve", "--ws", String(port), "--inspect"], { stdio: ["ignore", "pipe", "pipe"] })
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
    let stderr = ""
    child.stderr.on("data", (d) => (stderr += d))
    expect(await new Promise<number | null>((r) => child.once("close", (c) => r(c)))).toBe(1)
    expect(stderr).toContain("EADDRINUSE")
  })
})

describe("makeHttpServer on a taken port", () => {
  it("rejects with EADDRINUSE and closes the inspector it started", async () => {
    const taken = createServer()
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r))
    try {
      const before = inspection.listenerCount
      await expect(makeHttpServer(makeDemoServer(), { port: (taken.address() as AddressInfo).port, inspect: true })).rejects.toMatchObject({ code: "EADDRINUSE" })
      expect(inspection.listenerCount).toBe(before)
    } finally {
      await new Promise((r) => taken.close(r))
    }
  })
})

describe("makeWsServer on a taken port", () => {
  it("rejects with EADDRINUSE and closes the inspector it started", async () => {
    const { port } = await takePort()
    const before = inspection.listenerCount
    await expect(makeWsServer(makeDemoServer(), { port, inspect: true })).rejects.toMatchObject({ code: "EADDRINUSE" })
    expect(inspection.listenerCount).toBe(before)
  })
})

describe("startHost with its inspector's port taken", () => {
  it("rejects with EADDRINUSE, and its inspector leaves nothing following the runtime (the hub has no listener left)", async () => {
    const { port } = await takePort()
    const before = inspection.listenerCount
    await expect(startHost({ mcpServers: { never: { command: process.execPath, args: ["-e", "process.exit(3)"] } } }, { stateFile: false, inspect: { port } }))
      .rejects.toMatchObject({ code: "EADDRINUSE" })
    expect(inspection.listenerCount).toBe(before)
  })
})
