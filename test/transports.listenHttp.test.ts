/**
 * `listenHttp` (src/transports/http/listenHttp.ts): the one "listen and resolve"
 * step of every node:http listener. Real sockets: it resolves with the bound port,
 * rejects with the bind error, and leaves no `error` listener behind either way;
 * and every listener of the project goes through it (no second copy of the block).
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { listenHttp } from "../src/transports/http/listenHttp.ts"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const closeServer = (s: ReturnType<typeof createServer>) => new Promise<void>((r) => s.close(() => r()))

describe("listenHttp", () => {
  it("resolves once bound, with the port the OS picked for 0 and the host as written in a URL; no error listener stays", async () => {
    const server = createServer((_req, res) => res.end("ok"))
    const before = server.listenerCount("error")
    const { port, urlHost } = await listenHttp(server, 0, "127.0.0.1")
    expect(port).toBeGreaterThan(0)
    expect(urlHost).toBe("127.0.0.1")
    expect(server.listening).toBe(true)
    expect(server.listenerCount("error")).toBe(before)
    expect(await (await fetch(`http://${urlHost}:${port}/`)).text()).toBe("ok")
    await closeServer(server)
  })

  it("rejects with the bind error (EADDRINUSE) and leaves no listener behind", async () => {
    const first = createServer()
    const { port } = await listenHttp(first, 0, "127.0.0.1")
    const second = createServer()
    const error = await listenHttp(second, port, "127.0.0.1").catch((e: unknown) => e)
    expect((error as NodeJS.ErrnoException).code).toBe("EADDRINUSE")
    expect(second.listening).toBe(false)
    expect(second.listenerCount("error")).toBe(0)
    await closeServer(first)
  })

  it("brackets an IPv6 host for URLs", async () => {
    const server = createServer()
    const bound = await listenHttp(server, 0, "::1").catch((e: NodeJS.ErrnoException) => e)
    if (bound instanceof Error) {
      // No IPv6 loopback on this machine: the bind error is what the caller gets.
      expect(["EADDRNOTAVAIL", "EAFNOSUPPORT"]).toContain(bound.code)
      return
    }
    expect(bound.urlHost).toBe("[::1]")
    await closeServer(server)
  })

  it("every node:http listener of the project listens through it (no copy of the listen block left)", () => {
    const listeners = [
      "src/host/gateway.ts",
      "src/server/http/HttpServer.ts",
      "src/server/ws/WsServer.ts",
      "src/inspect/InspectorServer.ts",
      "src/observability/metricsEndpoint.ts"
    ]
    for (const file of listeners) {
      const text = readFileSync(join(root, file), "utf8")
      expect(text, file).toMatch(/listenHttp\(/)
      expect(text, file).not.toMatch(/\.listen\(/)
    }
  })
})
