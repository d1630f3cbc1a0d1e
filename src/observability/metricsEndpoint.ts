/**
 * `GET /metrics`: Prometheus text from a `Telemetry`, on the MCP HTTP server's own
 * port (`makeHttpServer(…, { metrics })`) or on a listener of its own (stdio and
 * WebSocket servers, the host: `serveMetrics`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { listenHttp } from "../transports/http/listenHttp.ts"
import { PROMETHEUS_CONTENT_TYPE } from "./Telemetry.ts"

/** Anything that renders Prometheus text (a `Telemetry`). */
export interface MetricsSource {
  prometheus(): string
}

const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...headers })
  res.end(body)
}

/** Answer one `/metrics` request; `refused` is the Host/Origin guard's verdict (DNS rebinding). */
export const answerMetrics = (req: IncomingMessage, res: ServerResponse, source: MetricsSource, refused: string | undefined): void => {
  if (refused !== undefined) return text(res, 403, `Forbidden: ${refused}`)
  if (req.method !== "GET" && req.method !== "HEAD") return text(res, 405, "Method Not Allowed", { allow: "GET, HEAD" })
  let body: string
  try {
    body = source.prometheus()
  } catch {
    return text(res, 500, "Internal error while rendering metrics")
  }
  res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "content-length": Buffer.byteLength(body) })
  res.end(req.method === "HEAD" ? undefined : body)
}

/** A running `/metrics` listener: its URL, and how to stop it. */
export interface MetricsServerHandle {
  readonly url: string
  close(): Promise<void>
}

/** A listener that serves only `GET /metrics` (default 127.0.0.1, any free port). */
export const serveMetrics = (source: MetricsSource, options: { readonly port?: number; readonly host?: string } = {}): Promise<MetricsServerHandle> => {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? ""
    const q = url.indexOf("?")
    if ((q === -1 ? url : url.slice(0, q)) !== "/metrics") return text(res, 404, "Not Found")
    answerMetrics(req, res, source, undefined)
  })
  const host = options.host ?? "127.0.0.1"
  return listenHttp(server, options.port ?? 0, host).then(({ port, urlHost }) => ({
    url: `http://${urlHost}:${port}/metrics`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done())
        server.closeAllConnections()
      })
  }))
}
