/**
 * The method table: what each client→server request does, for either era.
 * Pure with respect to the session: it reads the server definition and the
 * request context, and returns a result (or a Promise of one) or throws an
 * McpError. Lifecycle methods (initialize, ping) and notifications are the
 * session's business, not this table's.
 */
import { ErrorCode, errorMessage, McpError } from "../protocol/errors.ts"
import { isObject, type JsonRpcRequest } from "../protocol/jsonrpc.ts"
import type { Admission, CallGuard, GuardedCall } from "./CallGuard.ts"
import { InputRequiredSignal } from "./InputRequiredSignal.ts"
import type { McpServer } from "./McpServer.ts"
import type { RequestContext } from "./RequestContext.ts"
import { type CallToolResult, isLoggingLevel, type LoggingLevel, type ToolDefinition } from "./types.ts"

export type Result = { readonly [key: string]: unknown }
type MaybePromise<A> = A | PromiseLike<A>

/** Per-session state the table reads and writes (log level, subscriptions). */
export interface SessionState {
  logLevel: LoggingLevel | undefined
  /** Made on the first `resources/subscribe`. */
  subscriptions: Set<string> | undefined
  /** `resources/subscribe` requests whose hook has not answered yet (they count against the cap). */
  subscribing?: number
}

const invalidParams = (message: string) => new McpError(ErrorCode.InvalidParams, `Invalid params: ${message}`)

const checkCursor = (params: Record<string, unknown> | undefined) => {
  // One page holds everything; any cursor is therefore not one we issued.
  if (params?.cursor !== undefined) throw invalidParams("unknown cursor")
}

const toolCall = (server: McpServer, params: Record<string, unknown> | undefined, ctx: RequestContext): MaybePromise<Result> => {
  const name = params?.name
  if (typeof name !== "string") throw invalidParams("tools/call needs a tool name")
  const tool = server.tools.get(name)
  const args = (params!.arguments ?? {}) as Record<string, unknown>
  if (tool === undefined) return unlistedToolCall(server, name, args, ctx)
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw invalidParams("arguments must be an object")
  // SEP-1303: input validation failures are tool execution errors the model can see, not protocol errors.
  const invalid = tool.validateInput(args)
  if (invalid !== undefined) return toolError(`Invalid arguments for tool ${name}: ${invalid}`)
  let out: MaybePromise<CallToolResult>
  try {
    out = tool.handler(args, ctx)
  } catch (e) {
    return toolFailure(e)
  }
  const check = tool.validateOutput
  // A synchronous result (most calls) is checked without a closure per call.
  if (!isThenable(out)) return toolResult(name, check, ctx, out)
  return Promise.resolve(out).then((r) => toolResult(name, check, ctx, r), toolFailure)
}

/** A name the server does not list: its `unlisted` lookup may still know it (see McpServer). */
const unlistedToolCall = (server: McpServer, name: string, args: Record<string, unknown>, ctx: RequestContext): MaybePromise<Result> => {
  const handler = server.unlisted?.tool?.(name)
  if (handler === undefined) throw invalidParams(`unknown tool "${name}"`)
  if (typeof args !== "object" || args === null || Array.isArray(args)) throw invalidParams("arguments must be an object")
  let out: MaybePromise<CallToolResult>
  try {
    out = handler(args, ctx)
  } catch (e) {
    return toolFailure(e)
  }
  return isThenable(out) ? Promise.resolve(out).then((r) => toolResult(name, undefined, ctx, r), toolFailure) : toolResult(name, undefined, ctx, out)
}

/** A tool's result as sent: checked against its outputSchema, without structuredContent for eras before it. */
const toolResult = (name: string, check: ((v: unknown) => string | undefined) | undefined, ctx: RequestContext, r: CallToolResult): Result => {
  if (check && !r.isError) {
    if (r.structuredContent === undefined) return toolError(`Tool ${name} declares an outputSchema but returned no structuredContent`)
    const bad = check(r.structuredContent)
    if (bad !== undefined) return toolError(`Tool ${name} returned structuredContent that does not match its outputSchema: ${bad}`)
  }
  return r.structuredContent !== undefined && beforeStructuredOutput(ctx.protocolVersion) ? withoutStructured(r) : r
}

/**
 * `title`, `outputSchema` and `structuredContent` arrived in 2025-06-18: a client
 * that negotiated an older version is not sent fields its schema lacks (the
 * text content still carries the result).
 */
const beforeStructuredOutput = (version: string): boolean => version < "2025-06-18"
const olderTool = ({ title: _t, outputSchema: _o, ...rest }: ToolDefinition): ToolDefinition => rest
const withoutStructured = ({ structuredContent: _s, ...rest }: CallToolResult): Result => rest

const toolError = (text: string): Result => ({ content: [{ type: "text", text }], isError: true })

// A thrown McpError stays a protocol error; anything else is a tool execution error.
const toolFailure = (e: unknown): Result => {
  if (e instanceof McpError || e instanceof InputRequiredSignal) throw e
  return toolError(errorMessage(e))
}

export const isThenable = <A>(v: MaybePromise<A>): v is PromiseLike<A> =>
  typeof v === "object" && v !== null && typeof (v as PromiseLike<A>).then === "function"

const readResource = (server: McpServer, params: Record<string, unknown> | undefined, ctx: RequestContext): MaybePromise<Result> => {
  const uri = params?.uri
  if (typeof uri !== "string") throw invalidParams("resources/read needs a uri")
  const direct = server.resources.get(uri)
  if (direct) return direct.handler(uri, ctx)
  for (const t of server.resourceTemplates) {
    const vars = t.match(uri)
    if (vars) return t.handler(uri, vars, ctx)
  }
  // One the server knows but does not list now (see McpServer.unlisted).
  const unlisted = server.unlisted?.resource?.(uri)
  if (unlisted !== undefined) return unlisted(uri, ctx)
  throw resourceNotFound(uri, ctx.era)
}

/**
 * The error for a URI nothing serves, in the request's era: legacy -32002
 * (2025-11-25/server/resources.mdx:L388), modern -32602, which a server "MUST" return
 * (2026-07-28/server/resources.mdx:L404). `data` is `{ uri }` plus `extra` (the gateway adds
 * the host's refusal, or keeps an upstream's fields and `message`).
 */
export const resourceNotFound = (uri: string, era: RequestContext["era"], extra?: Record<string, unknown>, message = `Resource not found: ${uri}`): McpError =>
  new McpError(resourceNotFoundCode(era), message, { ...extra, uri })

/** The code of {@link resourceNotFound} in `era`. */
export const resourceNotFoundCode = (era: RequestContext["era"]): number =>
  era === "modern" ? ErrorCode.InvalidParams : ErrorCode.ResourceNotFound

const getPrompt = (server: McpServer, params: Record<string, unknown> | undefined, ctx: RequestContext): MaybePromise<Result> => {
  const name = params?.name
  if (typeof name !== "string") throw invalidParams("prompts/get needs a prompt name")
  const prompt = server.prompts.get(name)
  if (!prompt) {
    // One the server knows but does not list now (see McpServer.unlisted): no definition, so no required arguments.
    const handler = server.unlisted?.prompt?.(name)
    if (handler === undefined) throw invalidParams(`unknown prompt "${name}"`)
    return handler(promptArguments(params!), ctx)
  }
  const args = promptArguments(params!)
  for (const a of prompt.definition.arguments ?? []) {
    // Own properties only: an argument named `constructor` is not supplied by Object.prototype.
    if (a.required && !Object.hasOwn(args, a.name)) throw invalidParams(`prompt "${name}" needs argument "${a.name}"`)
  }
  return prompt.handler(args, ctx)
}

/** A prompts/get request's arguments: an object of strings (GetPromptRequest), or -32602. */
const promptArguments = (params: Record<string, unknown>): Record<string, string> => {
  const raw = params.arguments ?? {}
  if (typeof raw !== "object" || Array.isArray(raw)) throw invalidParams("arguments must be an object")
  // Prompt arguments are strings (GetPromptRequest): anything else would reach the handler as
  // something it cannot even print (an object whose toString is not a function).
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string") throw invalidParams(`prompt argument ${JSON.stringify(key)} must be a string`)
  }
  return raw as Record<string, string>
}

const complete = (server: McpServer, params: Record<string, unknown> | undefined, ctx: RequestContext): MaybePromise<Result> => {
  const handler = server.completionHandler
  if (!handler) throw new McpError(ErrorCode.MethodNotFound, "Method not found: completion/complete (capability not supported)")
  const ref = params?.ref as { type?: unknown } | undefined
  const argument = params?.argument as { name?: unknown; value?: unknown } | undefined
  if (!ref || typeof ref.type !== "string" || !argument || typeof argument.name !== "string" || typeof argument.value !== "string") {
    throw invalidParams("completion/complete needs ref {type} and argument {name, value}")
  }
  return handler(params as Parameters<typeof handler>[0], ctx) as unknown as MaybePromise<Result>
}

/**
 * Run one request. Capability gating has already happened; unknown methods
 * throw -32601 here. With a guard (the policy gateway), calls pass its
 * `admit` first and list results its `filter`.
 */
export const dispatchRequest = (
  server: McpServer,
  request: JsonRpcRequest,
  ctx: RequestContext,
  state: SessionState
): MaybePromise<Result> => {
  const telemetry = server.telemetry
  if (telemetry !== undefined) return telemetry.serverRequest(request, ctx, (traced) => dispatchUntraced(server, request, traced, state))
  return dispatchUntraced(server, request, ctx, state)
}

const dispatchUntraced = (server: McpServer, request: JsonRpcRequest, ctx: RequestContext, state: SessionState): MaybePromise<Result> => {
  const guard = server.guard
  return guard === undefined ? dispatchUnguarded(server, request, ctx, state) : dispatchGuarded(guard, server, request, ctx, state)
}

const guardedCall = (request: JsonRpcRequest): GuardedCall | undefined => {
  const params = request.params as Record<string, unknown> | undefined
  switch (request.method) {
    case "tools/call":
    case "prompts/get": {
      const name = params?.name
      if (typeof name !== "string") return undefined // the handler's own -32602
      const args = params!.arguments
      const kind = request.method === "tools/call" ? "tool" : "prompt"
      return { method: request.method, kind, name, args: isObject(args) ? args : undefined }
    }
    case "resources/read":
    case "resources/subscribe": {
      // A subscription is a standing read: the guard decides it as one (a denied URI cannot be
      // watched either). `resources/unsubscribe` is not guarded: ending a subscription is always allowed.
      const uri = params?.uri
      return typeof uri === "string" ? { method: request.method, kind: "resource", name: uri, args: undefined } : undefined
    }
    default:
      return undefined
  }
}

const outcomeOf = (r: Result): Parameters<Admission["done"]>[0] =>
  r.isError === true ? { outcome: "toolError" } : r.resultType === "input_required" ? { outcome: "inputRequired" } : { outcome: "ok" }
const errorOutcome = (e: unknown): Parameters<Admission["done"]>[0] =>
  e instanceof InputRequiredSignal ? { outcome: "inputRequired" } : { outcome: "error", error: errorMessage(e) }

/** Run an admitted call and tell the admission how it ended. */
const runAdmitted = (admission: Admission | undefined, run: () => MaybePromise<Result>): MaybePromise<Result> => {
  if (admission === undefined) return run()
  let out: MaybePromise<Result>
  try {
    out = run()
  } catch (e) {
    admission.done(errorOutcome(e))
    throw e
  }
  if (!isThenable(out)) {
    admission.done(outcomeOf(out))
    return out
  }
  return Promise.resolve(out).then(
    (r) => {
      admission.done(outcomeOf(r))
      return r
    },
    (e) => {
      admission.done(errorOutcome(e))
      throw e
    }
  )
}

const dispatchGuarded = (guard: CallGuard, server: McpServer, request: JsonRpcRequest, ctx: RequestContext, state: SessionState): MaybePromise<Result> => {
  const call = guardedCall(request)
  if (call !== undefined) {
    const admitted = guard.admit(call, ctx)
    const run = () => dispatchUnguarded(server, request, ctx, state)
    return isThenable(admitted) ? Promise.resolve(admitted).then((a) => runAdmitted(a, run)) : runAdmitted(admitted, run)
  }
  const out = dispatchUnguarded(server, request, ctx, state)
  switch (request.method) {
    case "tools/list":
      return filtered(out, (r) => ({ ...r, tools: guard.filter("tools", r.tools as ReadonlyArray<{ name: string }>, (t) => t.name, ctx) }))
    case "prompts/list":
      return filtered(out, (r) => ({ ...r, prompts: guard.filter("prompts", r.prompts as ReadonlyArray<{ name: string }>, (p) => p.name, ctx) }))
    case "resources/list":
      return filtered(out, (r) => ({ ...r, resources: guard.filter("resources", r.resources as ReadonlyArray<{ uri: string }>, (x) => x.uri, ctx) }))
    case "resources/templates/list":
      return filtered(out, (r) => ({
        ...r,
        resourceTemplates: guard.filter("resourceTemplates", r.resourceTemplates as ReadonlyArray<{ uriTemplate: string }>, (x) => x.uriTemplate, ctx)
      }))
    default:
      return out
  }
}

/**
 * Over the per-session cap (`maxSubscriptionsPerSession`): -32014 with `data.limit` (a legacy
 * `resources/subscribe`, and a modern listen's URIs beyond it).
 */
export const tooManySubscriptions = (limit: number): McpError =>
  new McpError(ErrorCode.TooManySubscriptions, `Too many subscriptions: a session may hold ${limit} (the server's limit); unsubscribe from one first`, { limit })

const empty = (): Result => ({})
const subscribed = (state: SessionState, uri: string): Result => {
  ;(state.subscriptions ??= new Set()).add(uri)
  return {}
}

const filtered = (out: MaybePromise<Result>, f: (r: Result) => Result): MaybePromise<Result> =>
  isThenable(out) ? Promise.resolve(out).then(f) : f(out)

const dispatchUnguarded = (
  server: McpServer,
  request: JsonRpcRequest,
  ctx: RequestContext,
  state: SessionState
): MaybePromise<Result> => {
  const params = request.params as Record<string, unknown> | undefined
  switch (request.method) {
    case "tools/call":
      return toolCall(server, params, ctx)
    case "tools/list":
      checkCursor(params)
      return { tools: beforeStructuredOutput(ctx.protocolVersion) ? server.toolList().map(olderTool) : server.toolList() }
    case "resources/list":
      checkCursor(params)
      return { resources: [...server.resources.values()].map((r) => r.definition) }
    case "resources/templates/list":
      checkCursor(params)
      return { resourceTemplates: server.resourceTemplates.map((t) => t.definition) }
    case "resources/read":
      return readResource(server, params, ctx)
    case "resources/subscribe":
    case "resources/unsubscribe": {
      const uri = params?.uri
      if (typeof uri !== "string") throw invalidParams(`${request.method} needs a uri`)
      const hook = server.resourceSubscriptions
      if (request.method === "resources/unsubscribe") {
        state.subscriptions?.delete(uri)
        return hook === undefined ? {} : Promise.resolve(hook.unsubscribe(uri, state, ctx)).then(empty)
      }
      // One session cannot hold more URIs than the cap (each may become an upstream subscription
      // of a gateway's host); subscribing again to one it holds is not a new one.
      // Subscribes still under way count too: a burst of them cannot pass the cap before any is answered.
      const held = state.subscriptions
      const limit = server.maxSubscriptionsPerSession
      if ((held?.size ?? 0) + (state.subscribing ?? 0) >= limit && held?.has(uri) !== true) {
        throw tooManySubscriptions(limit)
      }
      if (hook === undefined) return subscribed(state, uri)
      // Heard from once the hook accepted it.
      state.subscribing = (state.subscribing ?? 0) + 1
      const settled = () => void (state.subscribing = (state.subscribing ?? 1) - 1)
      let accepted: PromiseLike<void> | void
      try {
        accepted = hook.subscribe(uri, state, ctx)
      } catch (e) {
        settled()
        throw e
      }
      return Promise.resolve(accepted).then(() => {
        settled()
        return subscribed(state, uri)
      }, (e: unknown) => {
        settled()
        throw e
      })
    }
    case "prompts/list":
      checkCursor(params)
      return { prompts: [...server.prompts.values()].map((p) => p.definition) }
    case "prompts/get":
      return getPrompt(server, params, ctx)
    case "completion/complete":
      return complete(server, params, ctx)
    case "logging/setLevel": {
      const level = params?.level
      if (!isLoggingLevel(level)) throw invalidParams(`unknown logging level ${JSON.stringify(level)}`)
      state.logLevel = level
      return {}
    }
    default:
      throw new McpError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`)
  }
}
