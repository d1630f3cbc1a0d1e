/**
 * An Effect `Tracer` that keeps ended spans in memory as plain records: for
 * tests, and for tools that want the spans without a collector.
 */
import { Option, Tracer } from "effect"
import type { Context, Exit } from "effect"

/** One ended span, in OTLP's terms. */
export interface RecordedSpan {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
  readonly events: ReadonlyArray<{ readonly name: string; readonly timeUnixNano: bigint; readonly attributes: Readonly<Record<string, unknown>> }>
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly status: "ok" | "error"
}

const hex = (bytes: number): string => {
  let s = ""
  for (let i = 0; i < bytes; i++) s += Math.floor(Math.random() * 256).toString(16).padStart(2, "0")
  return s
}

class MemorySpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly name: string
  readonly spanId = hex(8)
  readonly traceId: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly links: Array<Tracer.SpanLink>
  readonly sampled: boolean
  readonly kind: Tracer.SpanKind
  readonly attributes = new Map<string, unknown>()
  readonly events: Array<{ name: string; timeUnixNano: bigint; attributes: Record<string, unknown> }> = []
  status: Tracer.SpanStatus
  readonly #sink: Array<RecordedSpan>
  constructor(options: Parameters<Tracer.Tracer["span"]>[0], sink: Array<RecordedSpan>) {
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.links = [...options.links]
    this.sampled = options.sampled
    this.kind = options.kind
    this.traceId = Option.isSome(options.parent) ? options.parent.value.traceId : hex(16)
    this.status = { _tag: "Started", startTime: options.startTime }
    this.#sink = sink
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    const startTime = this.status.startTime
    this.status = { _tag: "Ended", startTime, endTime, exit }
    if (!this.sampled) return // like the OTLP exporter: unsampled spans are not recorded
    this.#sink.push({
      name: this.name,
      kind: this.kind,
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: Option.isSome(this.parent) ? this.parent.value.spanId : undefined,
      attributes: Object.fromEntries(this.attributes),
      events: this.events,
      links: this.links.map((l) => ({ traceId: l.span.traceId, spanId: l.span.spanId })),
      startTimeUnixNano: startTime,
      endTimeUnixNano: endTime,
      status: exit._tag === "Success" ? "ok" : "error"
    })
  }
  attribute(key: string, value: unknown): void {
    if (this.status._tag !== "Ended") this.attributes.set(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.status._tag !== "Ended") this.events.push({ name, timeUnixNano: startTime, attributes: attributes ?? {} })
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}

/** A tracer recording ended, sampled spans into `spans` (oldest first). */
export const makeMemoryTracer = (): { readonly tracer: Tracer.Tracer; readonly spans: Array<RecordedSpan> } => {
  const spans: Array<RecordedSpan> = []
  return { tracer: Tracer.make({ span: (options) => new MemorySpan(options, spans) }), spans }
}
