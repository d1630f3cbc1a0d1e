/**
 * The results of the client's MCP methods, typed after the spec (2025-11-25 and
 * 2026-07-28 share these shapes; 2026-07-28 adds `resultType`), and the checks that
 * hold a server's answer to them before a caller sees it.
 *
 * Written here rather than taken from `effect/ai/McpSchema`: its result classes
 * decode `image`/`audio` data to `Uint8Array` (the wire has base64 strings), close
 * the content-block union (a newer server's block kind would fail the call) and
 * are class instances; and `Schema.is` costs microseconds per small result where
 * these direct checks cost tens of nanoseconds (they run on every call).
 *
 * Lenient where the spec is: every object may carry more fields than it names
 * (kept, never dropped: the value checked is the value returned), and a content
 * block of a kind this version does not know passes with only its string `type`
 * checked. Strict where a caller would otherwise crash: arrays are arrays, names,
 * URIs and texts are strings, the optional fields named here have their types.
 */
import { ErrorCode } from "./errors.ts"
import { isObject } from "./jsonrpc.ts"
import { RpcError } from "./requestErrors.ts"

/** Fields beyond those the spec names: results and their parts may carry more. */
export type Extra = { readonly [key: string]: unknown }
/** The `_meta` every result, and most of their parts, may carry. */
export type Meta = { readonly _meta?: { readonly [key: string]: unknown } }

/**
 * Any result (the legacy `ping`, `resources/subscribe`, … answer an empty one). A 2026-07-28
 * server marks it `resultType: "complete"` (absent from earlier versions: complete too).
 */
export type Result = Meta & Extra & { readonly resultType?: string }
/** A list page: `nextCursor` when there is more. */
export type PaginatedResult = Result & { readonly nextCursor?: string }

/** Optional hints about how a client should use a piece of content. */
export type Annotations = Extra & {
  readonly audience?: ReadonlyArray<"user" | "assistant">
  readonly priority?: number
  readonly lastModified?: string
}
/** An icon a client may display for a tool, resource or prompt. */
export type Icon = Extra & { readonly src: string; readonly mimeType?: string; readonly sizes?: ReadonlyArray<string> }

/** Text content. */
export type TextContent = Meta & Extra & { readonly type: "text"; readonly text: string; readonly annotations?: Annotations }
/** `data` is base64, as on the wire. */
export type ImageContent = Meta & Extra & { readonly type: "image"; readonly data: string; readonly mimeType: string; readonly annotations?: Annotations }
/** `data` is base64, as on the wire. */
export type AudioContent = Meta & Extra & { readonly type: "audio"; readonly data: string; readonly mimeType: string; readonly annotations?: Annotations }
/** A resource's contents as text. */
export type TextResourceContents = Meta & Extra & { readonly uri: string; readonly mimeType?: string; readonly text: string }
/** `blob` is base64, as on the wire. */
export type BlobResourceContents = Meta & Extra & { readonly uri: string; readonly mimeType?: string; readonly blob: string }
/** A resource's contents: text or base64 blob. */
export type ResourceContents = TextResourceContents | BlobResourceContents
/** A resource's contents embedded in a tool result or prompt message. */
export type EmbeddedResource = Meta & Extra & { readonly type: "resource"; readonly resource: ResourceContents; readonly annotations?: Annotations }

/** A resource a server can read. */
export type Resource = Meta & Extra & {
  readonly uri: string
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly mimeType?: string
  readonly size?: number
  readonly annotations?: Annotations
  readonly icons?: ReadonlyArray<Icon>
}
/** A link to a resource, in a tool result or prompt message. */
export type ResourceLink = Resource & { readonly type: "resource_link" }

/**
 * A content block of a tool result or prompt message (2025-11-25). At run time a
 * block of a kind a newer spec adds passes through too (only its `type` is checked):
 * switch on `type` with a default branch.
 */
export type ContentBlock = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource

/** A tool the server offers. */
export type Tool = Meta & Extra & {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema: { readonly $schema?: string; readonly type: "object"; readonly properties?: { readonly [key: string]: unknown }; readonly required?: ReadonlyArray<string> } & Extra
  readonly outputSchema?: { readonly $schema?: string } & Extra
  readonly annotations?: Extra & {
    readonly title?: string
    readonly readOnlyHint?: boolean
    readonly destructiveHint?: boolean
    readonly idempotentHint?: boolean
    readonly openWorldHint?: boolean
  }
  readonly icons?: ReadonlyArray<Icon>
}
/** `tools/list`: a page of the server's tools. */
export type ListToolsResult = PaginatedResult & { readonly tools: ReadonlyArray<Tool> }
/**
 * A tool's answer; its own failure is `isError: true`, not an error. `structuredContent` is
 * an object up to 2025-11-25 and any JSON value from 2026-07-28 on, hence `unknown`.
 */
export type CallToolResult = Result & {
  readonly content: ReadonlyArray<ContentBlock>
  readonly structuredContent?: unknown
  readonly isError?: boolean
}

/** `resources/list`: a page of the server's resources. */
export type ListResourcesResult = PaginatedResult & { readonly resources: ReadonlyArray<Resource> }
/** A URI template (RFC 6570) for resources the server can read. */
export type ResourceTemplate = Meta & Extra & {
  readonly uriTemplate: string
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly mimeType?: string
  readonly annotations?: Annotations
  readonly icons?: ReadonlyArray<Icon>
}
/** `resources/templates/list`: a page of the server's resource templates. */
export type ListResourceTemplatesResult = PaginatedResult & { readonly resourceTemplates: ReadonlyArray<ResourceTemplate> }
/** `resources/read`: the contents of a resource (and its parts). */
export type ReadResourceResult = Result & { readonly contents: ReadonlyArray<ResourceContents> }

/** An argument a prompt takes. */
export type PromptArgument = Extra & { readonly name: string; readonly title?: string; readonly description?: string; readonly required?: boolean }
/** A prompt (template) the server offers. */
export type Prompt = Meta & Extra & {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly arguments?: ReadonlyArray<PromptArgument>
  readonly icons?: ReadonlyArray<Icon>
}
/** `prompts/list`: a page of the server's prompts. */
export type ListPromptsResult = PaginatedResult & { readonly prompts: ReadonlyArray<Prompt> }
/** One message of a prompt. */
export type PromptMessage = Extra & { readonly role: "user" | "assistant"; readonly content: ContentBlock }
/** `prompts/get`: a prompt's messages with its arguments filled in. */
export type GetPromptResult = Result & { readonly description?: string; readonly messages: ReadonlyArray<PromptMessage> }

/** `completion/complete`: suggested values for an argument. */
export type CompleteResult = Result & {
  readonly completion: Extra & { readonly values: ReadonlyArray<string>; readonly total?: number; readonly hasMore?: boolean }
}

/** The result type each method promises. */
export interface ResultOf {
  "tools/list": ListToolsResult
  "tools/call": CallToolResult
  "resources/list": ListResourcesResult
  "resources/templates/list": ListResourceTemplatesResult
  "resources/read": ReadResourceResult
  "prompts/list": ListPromptsResult
  "prompts/get": GetPromptResult
  "completion/complete": CompleteResult
}

// ---- checks: each returns where the first offence is and what was expected, or undefined ----

type Check = (v: unknown) => string | undefined
type Obj = { readonly [key: string]: unknown }

const at = (key: string | number, inner: string): string => (typeof key === "number" ? `[${key}]` : `.${key}`) + inner
const expected = (what: string): ((v: unknown) => string) => {
  const offence = `: expected ${what}`
  return (v) => (v === undefined ? `: missing, expected ${what}` : offence)
}

/** Required and optional (absent = undefined) fields of an object, each with its check. */
const fields = (required: ReadonlyArray<readonly [string, Check]>, optional: ReadonlyArray<readonly [string, Check]> = []): Check => {
  const notObject = expected("an object")
  return (v) => {
    if (!isObject(v)) return notObject(v)
    for (const [k, check] of required) {
      const bad = check(v[k])
      if (bad !== undefined) return at(k, bad)
    }
    for (const [k, check] of optional) {
      const x = v[k]
      if (x === undefined) continue
      const bad = check(x)
      if (bad !== undefined) return at(k, bad)
    }
    return undefined
  }
}
const typed = (type: "string" | "number" | "boolean"): Check => {
  const wrong = expected(`a ${type}`)
  return (v) => (typeof v === type ? undefined : wrong(v))
}
const string = typed("string")
const number = typed("number")
const boolean = typed("boolean")
const notObject = expected("an object")
const object: Check = (v) => (isObject(v) ? undefined : notObject(v))
const notArray = expected("an array")
const arrayOf = (item: Check): Check => (v) => {
  if (!Array.isArray(v)) return notArray(v)
  for (let i = 0; i < v.length; i++) {
    const bad = item(v[i])
    if (bad !== undefined) return at(i, bad)
  }
  return undefined
}

const meta = ["_meta", object] as const
const resultFields = (required: ReadonlyArray<readonly [string, Check]>, optional: ReadonlyArray<readonly [string, Check]> = []): Check =>
  fields(required, [meta, ...optional])
const page = (key: string, item: Check): Check => resultFields([[key, arrayOf(item)]], [["nextCursor", string]])

const icons = ["icons", arrayOf(fields([["src", string]]))] as const
const annotations = ["annotations", object] as const
const resourceContentsFields = fields([["uri", string]], [meta, ["mimeType", string]])
const resourceContents: Check = (v) => {
  const bad = resourceContentsFields(v)
  if (bad !== undefined) return bad
  const c = v as Obj
  return typeof c.text === "string" || typeof c.blob === "string" ? undefined : ": expected a string text or blob"
}
const resourceOptional = [meta, ["title", string], ["description", string], ["mimeType", string], annotations, icons] as const
const resource = fields([["uri", string], ["name", string]], [...resourceOptional, ["size", number]])

const blockChecks: { readonly [kind: string]: Check } = {
  text: fields([["text", string]], [meta, annotations]),
  image: fields([["data", string], ["mimeType", string]], [meta, annotations]),
  audio: fields([["data", string], ["mimeType", string]], [meta, annotations]),
  resource: fields([["resource", resourceContents]], [meta, annotations]),
  resource_link: resource
}
const typeNotString = expected("a string")
/** A block of a known kind is checked as that kind; any other kind passes with its string `type`. */
const contentBlock: Check = (v) => {
  if (!isObject(v)) return notObject(v)
  const kind = v.type
  if (typeof kind !== "string") return at("type", typeNotString(kind))
  // Own-key lookup: the kind is peer-supplied and must not reach Object.prototype.
  return Object.hasOwn(blockChecks, kind) ? blockChecks[kind]!(v) : undefined
}

const tool = fields(
  [["name", string], ["inputSchema", object]],
  [meta, ["title", string], ["description", string], ["outputSchema", object], annotations, icons]
)
const prompt = fields(
  [["name", string]],
  [meta, ["title", string], ["description", string], ["arguments", arrayOf(fields([["name", string]]))], icons]
)
const promptMessage = fields([["role", string], ["content", contentBlock]])
// `structuredContent` is not checked: any JSON value from 2026-07-28 on.
const callToolOptional = [meta, ["isError", boolean]] as const
const callToolWithoutContent = fields([], callToolOptional)
const callToolWithContent = fields([["content", arrayOf(contentBlock)]], callToolOptional)

const checks: { readonly [M in CheckedMethod]: Check } = {
  "tools/list": page("tools", tool),
  // The SDK reads a tool result without `content` as empty content; so do we.
  "tools/call": (v) => (isObject(v) && v.content === undefined ? callToolWithoutContent(v) : callToolWithContent(v)),
  "resources/list": page("resources", resource),
  "resources/templates/list": page("resourceTemplates", fields([["uriTemplate", string], ["name", string]], resourceOptional)),
  "resources/read": resultFields([["contents", arrayOf(resourceContents)]]),
  "prompts/list": page("prompts", prompt),
  "prompts/get": resultFields([["messages", arrayOf(promptMessage)]], [["description", string]]),
  "completion/complete": resultFields([["completion", fields([["values", arrayOf(string)]], [["total", number], ["hasMore", boolean]])]])
}

/** Methods whose results have a shape to check. */
export type CheckedMethod = keyof ResultOf

/**
 * `result` as `method`'s typed result, or the `RpcError` 'invalid response from the
 * server' (code -32600, as for a malformed response) naming the method and the
 * offending path. The same object is returned (no field dropped), except a
 * `tools/call` result without `content`, which gets `content: []` in a shallow copy.
 */
export const checkResult = <M extends CheckedMethod>(method: M, result: Result): ResultOf[M] => {
  const bad = checks[method](result)
  if (bad !== undefined) {
    throw new RpcError({ method, code: ErrorCode.InvalidRequest, message: `invalid response from the server: ${method} result${bad}`, data: { path: `result${bad.slice(0, bad.indexOf(":"))}` } })
  }
  return (method === "tools/call" && result.content === undefined ? { ...result, content: [] } : result) as unknown as ResultOf[M]
}

/** `checkResult` bound to each method once, so a call allocates no closure for its check. */
export const resultCheckers: { readonly [M in CheckedMethod]: (result: Result) => ResultOf[M] } = {
  "tools/list": (r) => checkResult("tools/list", r),
  "tools/call": (r) => checkResult("tools/call", r),
  "resources/list": (r) => checkResult("resources/list", r),
  "resources/templates/list": (r) => checkResult("resources/templates/list", r),
  "resources/read": (r) => checkResult("resources/read", r),
  "prompts/list": (r) => checkResult("prompts/list", r),
  "prompts/get": (r) => checkResult("prompts/get", r),
  "completion/complete": (r) => checkResult("completion/complete", r)
}
