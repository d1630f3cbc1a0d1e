/**
 * `--otlp URL` and `--metrics` of `serve` and `host`: make the Telemetry, and
 * for transports without an HTTP port of their own, a `/metrics` listener.
 */
import type { Telemetry } from "../observability/Telemetry.ts"

export interface TelemetryCliOptions {
  /** OTLP/HTTP collector base URL (spans to /v1/traces, metrics to /v1/metrics). */
  readonly otlp?: string
  /** Share of new traces exported (head sampling), 0..1. */
  readonly sample?: number
  /** Serve Prometheus text at /metrics. */
  readonly metrics: boolean
  /** Port of a separate /metrics listener (stdio and WebSocket; default any free port). */
  readonly metricsPort?: number
  readonly host: string
}

export interface TelemetrySetup {
  readonly telemetry: Telemetry
  /** Start the separate /metrics listener (when --metrics and the transport has no HTTP port); prints its URL on stderr. */
  listenMetrics(): Promise<void>
  /** Flush spans and stop every listener. */
  close(): Promise<void>
}

export const TELEMETRY_USAGE = `Observability:
  --otlp URL               export OpenTelemetry spans and metrics (MCP semantic conventions) over OTLP/HTTP JSON
                           to URL (e.g. http://127.0.0.1:4318); OTEL_SERVICE_NAME names the service
  --otlp-sample RATIO      share of new traces exported, 0..1 (default 1; a client's sampled flag is followed)
  --metrics                serve Prometheus text at /metrics (on the HTTP port; for stdio/WebSocket on its own port)
  --metrics-port PORT      port of that separate /metrics listener (default: any free port, printed on stderr)
`

export const TELEMETRY_OPTIONS = {
  otlp: { type: "string" },
  "otlp-sample": { type: "string" },
  metrics: { type: "boolean" },
  "metrics-port": { type: "string" }
} as const

/** Undefined when neither --otlp nor --metrics was given (telemetry stays off: zero cost). */
export const setupTelemetry = async (options: TelemetryCliOptions): Promise<TelemetrySetup | undefined> => {
  if (options.otlp === undefined && !options.metrics) return undefined
  const { Telemetry } = await import("../observability/Telemetry.ts")
  const telemetry = options.otlp === undefined
    ? new Telemetry()
    : await (await import("../observability/otlp.ts")).makeOtlpTelemetry({ url: options.otlp, ...(options.sample === undefined ? {} : { sampleRatio: options.sample }) })
  let listener: { close(): Promise<void> } | undefined
  return {
    telemetry,
    listenMetrics: async () => {
      if (!options.metrics || listener !== undefined) return
      const { serveMetrics } = await import("../observability/metricsEndpoint.ts")
      const handle = await serveMetrics(telemetry, { host: options.host, ...(options.metricsPort === undefined ? {} : { port: options.metricsPort }) })
      listener = handle
      process.stderr.write(`mcp-actors: Prometheus metrics on ${handle.url}\n`)
    },
    close: async () => {
      await listener?.close()
      await telemetry.close()
    }
  }
}
