/**
 * Request targets that are no URL (`//[`: a host part that is no host) and path
 * segments with a malformed percent-escape (`%E0%A4%A`), sent to every HTTP
 * listener we run: a 400 with a message, and the listener keeps serving. Before,
 * `new URL` / `decodeURIComponent` threw in the inspector's request and upgrade
 * listeners and in the WebSocket server's upgrade listener, which ended the
 * whole process (the MCP server with it), with no token needed for `//[`.
 */
import { request } from "node:http"
import { afterEach, describe, expect, it } from "vitest"
import { makeDemoServer } from "../examples/demo.ts"
import { type Inspector, startInspector } from "../src/inspect/InspectorServer.ts"
import { makeHttpServer } from "../src/server/http/HttpServer.ts"
import { makeWsServer } from "../src/server/ws/WsServer.ts"
import { decodeSegment, requestUrl } from "../src/transports/http/requestTarget.ts"

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

interface Reply {
  readonly status: number
  readonly body: string
}

/** A raw request with `path` sent as is (a WebSocket upgrade with `upgrade`). */
const send = (port: number, path: string, options: { readonly method?: string; readonly upgrade?: boolean; readonly headers?: Record<string, string> } = {}): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      method: options.method ?? "GET",
      agent: false,
      headers: {
        ...(options.upgrade === true
          ? { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol": "mcp" }
          : {}),
        ...options.headers
      }
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on("upgrade", (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode ?? 101, body: "" })
    })
    req.on("error", reject)
    req.end()
  })

describe("requestTarget", () => {
  it("reads a target that is no URL and a malformed escape as undefined, a good one as itself", () => {
    expect(requestUrl("//[", "http://x")).toBeUndefined()
    expect(requestUrl("/mcp?x=1", "http://x")?.pathname).toBe("/mcp")
    expect(requestUrl(undefined, "http://x")?.pathname).toBe("/")
    expect(decodeSegment("%E0%A4%A")).toBeUndefined()
    expect(decodeSegment("a%20b")).toBe("a b")
    expect(decodeSegment("constructor")).toBe("constructor")
  })
})

describe("hostile request targets: a 400, and the listener keeps serving", () => {
  it("the inspector: `//[` with and without an upgrade, malformed escapes in /record, /replay and /approvals", async () => {
    const inspector: Inspector = await startInspector({ port: 0 })
    closers.push(() => inspector.close())
    const port = inspector.port
    const token = inspector.token
    const bad = await send(port, "//[")
    expect(bad.status).toBe(400)
    expect(bad.body).toMatch(/not a URL/)
    expect((await send(port, "//[", { upgrade: true })).status).toBe(400)
    for (const kind of ["record", "replay"]) {
      const r = await send(port, `/${kind}/%E0%A4%A?token=${token}`)
      expect(r.status).toBe(400)
      expect(r.body).toMatch(/malformed percent-escape/)
    }
    const approval = await send(port, `/approvals/%E0%A4%A?token=${token}`, { method: "POST", headers: { origin: inspector.origin, "content-type": "application/json" } })
    expect(approval.status).toBe(400)
    // Still serving: the page with its token, and the record of an unknown id is a 404.
    expect((await send(port, `/?token=${token}`)).status).toBe(200)
    expect((await send(port, `/record/nobody?token=${token}`)).status).toBe(404)
  })

  it("the WebSocket server: an upgrade to `//[` is a 400; the next upgrade to /mcp is accepted", async () => {
    const handle = await makeWsServer(makeDemoServer(), { port: 0 })
    closers.push(() => handle.close())
    const port = Number(new URL(handle.url).port)
    const bad = await send(port, "//[", { upgrade: true })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatch(/not a URL/)
    expect((await send(port, "/mcp", { upgrade: true })).status).toBe(101)
  })

  it("the Streamable HTTP server: `//[` is refused as an unknown endpoint and the server keeps serving", async () => {
    const handle = await makeHttpServer(makeDemoServer(), { port: 0 })
    closers.push(() => handle.close())
    const port = Number(new URL(handle.url).port)
    expect((await send(port, "//[")).status).toBe(404)
    expect((await send(port, "//[", { method: "POST" })).status).toBe(404)
    expect((await send(port, "/mcp", { method: "GET" })).status).not.toBe(404)
  })
})
