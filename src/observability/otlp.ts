/**
 * Telemetry exported over OTLP/HTTP (JSON) with `effect/observability`'s own
 * exporters: `OtlpTracer` for the spans, `OtlpMetrics` for the histograms and
 * counters, batched and retried by Effect, flushed on `close()`. No OpenTelemetry
 * SDK is involved (see docs/observability.md, "Why Effect's exporter").
 */
import { Context, Duration, Layer, ManagedRuntime, Metric, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpExporter, OtlpMetrics, OtlpSerialization, OtlpTracer } from "effect/observability"
import { Telemetry } from "./Telemetry.ts"

/** Where and how `makeOtlpTelemetry` exports (OTLP/HTTP JSON). */
export interface OtlpTelemetryOptions {
  /**
   * The collector's base URL (`http://127.0.0.1:4318`): spans go to `/v1/traces`,
   * metrics to `/v1/metrics`. Default: `OTEL_EXPORTER_OTLP_ENDPOINT`.
   */
  readonly url?: string
  /** `service.name` of the resource. Default: `OTEL_SERVICE_NAME`, else "mcp-actors". */
  readonly serviceName?: string
  readonly serviceVersion?: string
  /** Extra request headers (collector auth). */
  readonly headers?: Record<string, string>
  /** How often buffered spans are sent. Default: `OTEL_BSP_SCHEDULE_DELAY`, else 5000 ms. */
  readonly exportIntervalMs?: number
  /** How often metrics are sent. Default 60000 ms; 0 = no OTLP metrics (Prometheus `/metrics` only). */
  readonly metricsIntervalMs?: number
  /** Record tool call arguments on spans (they may hold secrets). Default false. */
  readonly recordArguments?: boolean
  /** Share of new traces recorded (head sampling), 0..1. Default 1. */
  readonly sampleRatio?: number
}

const envMillis = (name: string): number | undefined => {
  const n = Number(process.env[name])
  return process.env[name] !== undefined && process.env[name] !== "" && Number.isFinite(n) && n >= 0 ? n : undefined
}

/**
 * A `Telemetry` whose spans (and metrics) are exported over OTLP/HTTP JSON.
 * Call `close()` at shutdown: it flushes what is buffered.
 */
export const makeOtlpTelemetry = async (options: OtlpTelemetryOptions = {}): Promise<Telemetry> => {
  const url = options.url ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  if (url === undefined || url === "") throw new TypeError("makeOtlpTelemetry: no collector URL (pass url or set OTEL_EXPORTER_OTLP_ENDPOINT)")
  const base = url.replace(/\/+$/, "")
  const resource = {
    serviceName: options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? "mcp-actors",
    ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
  }
  const headers = options.headers ?? {}
  const registry: Metric.MetricRegistry = new Map()
  const tracing = OtlpTracer.layer({
    url: `${base}/v1/traces`,
    resource,
    headers,
    exportInterval: Duration.millis(options.exportIntervalMs ?? envMillis("OTEL_BSP_SCHEDULE_DELAY") ?? 5_000)
  })
  const metricsMs = options.metricsIntervalMs ?? 60_000
  const signals = metricsMs <= 0 ? tracing : Layer.merge(
    tracing,
    OtlpMetrics.layer({ url: `${base}/v1/metrics`, resource, headers, exportInterval: Duration.millis(metricsMs) })
  )
  const layer = signals.pipe(
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(FetchHttpClient.layer),
    // The exporters snapshot the Telemetry's own registry, not Effect's process-wide one.
    Layer.provide(Layer.succeed(Metric.MetricRegistry, registry))
  )
  const runtime = ManagedRuntime.make(layer)
  const context = await runtime.context()
  const flusher = Context.get(context, OtlpExporter.Flusher)
  return new Telemetry({
    tracer: Context.get(context, Tracer.Tracer),
    metricRegistry: registry,
    ...(options.recordArguments === undefined ? {} : { recordArguments: options.recordArguments }),
    ...(options.sampleRatio === undefined ? {} : { sampleRatio: options.sampleRatio }),
    onFlush: () => runtime.runPromise(flusher.flush),
    onClose: () => runtime.dispose()
  })
}
