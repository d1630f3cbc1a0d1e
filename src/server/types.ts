/**
 * MCP result and definition shapes the server API works with (a structural
 * subset of `schema/2025-11-25/schema.ts`; extra fields pass through untouched).
 */
/** A JSON Schema object (tool `inputSchema`/`outputSchema`), kept as plain data. */
export type JsonSchema = { readonly [key: string]: unknown }

/** Text in a tool result or prompt message. */
export interface TextContent { readonly type: "text"; readonly text: string; readonly [k: string]: unknown }
/** A base64-encoded image in a tool result or prompt message. */
export interface ImageContent { readonly type: "image"; readonly data: string; readonly mimeType: string; readonly [k: string]: unknown }
/** Base64-encoded audio in a tool result or prompt message. */
export interface AudioContent { readonly type: "audio"; readonly data: string; readonly mimeType: string; readonly [k: string]: unknown }
/** A link to a resource the client may read, instead of its contents. */
export interface ResourceLinkContent { readonly type: "resource_link"; readonly uri: string; readonly name: string; readonly [k: string]: unknown }
/** A resource's contents embedded in a tool result or prompt message. */
export interface EmbeddedResourceContent { readonly type: "resource"; readonly resource: ResourceContents; readonly [k: string]: unknown }
/** Any content block of a tool result or prompt message. */
export type Content = TextContent | ImageContent | AudioContent | ResourceLinkContent | EmbeddedResourceContent

/** One resource's contents: text or a base64 `blob`. */
export type ResourceContents =
  | { readonly uri: string; readonly mimeType?: string; readonly text: string; readonly [k: string]: unknown }
  | { readonly uri: string; readonly mimeType?: string; readonly blob: string; readonly [k: string]: unknown }

/**
 * What a tool handler returns. `isError: true` reports a failure the model should see
 * (an execution error), as opposed to a thrown error, which becomes a JSON-RPC error.
 */
export interface CallToolResult {
  readonly content: ReadonlyArray<Content>
  readonly structuredContent?: { readonly [key: string]: unknown }
  readonly isError?: boolean
  readonly [k: string]: unknown
}

/** Hints about a tool's behaviour for the client's UI and consent; untrusted unless the server is. */
export interface ToolAnnotations {
  readonly title?: string
  readonly readOnlyHint?: boolean
  readonly destructiveHint?: boolean
  readonly idempotentHint?: boolean
  readonly openWorldHint?: boolean
}

/** A tool as `tools/list` shows it; `inputSchema` defaults to an empty object schema. */
export interface ToolDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema?: JsonSchema
  readonly outputSchema?: JsonSchema
  readonly annotations?: ToolAnnotations
  readonly _meta?: { readonly [key: string]: unknown }
}

/** A fixed-URI resource as `resources/list` shows it. */
export interface ResourceDefinition {
  readonly uri: string
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly mimeType?: string
  readonly size?: number
}

/** A family of resources under an RFC 6570 URI template, as `resources/templates/list` shows it. */
export interface ResourceTemplateDefinition {
  readonly uriTemplate: string
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly mimeType?: string
}

/** What a resource handler returns: the contents of the URI asked for. */
export interface ReadResourceResult { readonly contents: ReadonlyArray<ResourceContents>; readonly [k: string]: unknown }

/** One argument a prompt takes. */
export interface PromptArgument { readonly name: string; readonly description?: string; readonly required?: boolean }
/** A prompt as `prompts/list` shows it. */
export interface PromptDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly arguments?: ReadonlyArray<PromptArgument>
}
/** One message of a prompt's conversation. */
export interface PromptMessage { readonly role: "user" | "assistant"; readonly content: Content }
/** What a prompt handler returns: the messages, with arguments filled in. */
export interface GetPromptResult { readonly description?: string; readonly messages: ReadonlyArray<PromptMessage>; readonly [k: string]: unknown }

/** What a completion handler returns: suggested values for the argument being typed. */
export interface CompleteResult {
  readonly completion: { readonly values: ReadonlyArray<string>; readonly total?: number; readonly hasMore?: boolean }
}

/** The syslog severities MCP logging uses, least severe first. */
export const LOGGING_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const
/** A severity for `ctx.log` and `logging/setLevel`. */
export type LoggingLevel = (typeof LOGGING_LEVELS)[number]
/** Whether a peer-supplied value is a known severity. */
export const isLoggingLevel = (v: unknown): v is LoggingLevel => typeof v === "string" && (LOGGING_LEVELS as ReadonlyArray<string>).includes(v)
/** A severity's position, for threshold comparisons (higher is more severe). */
export const levelRank = (l: LoggingLevel): number => LOGGING_LEVELS.indexOf(l)

/** Who a peer is (`clientInfo` / `serverInfo`): name and version, plus optional display fields. */
export interface Implementation {
  readonly name: string
  readonly version: string
  readonly title?: string
  readonly description?: string
  readonly websiteUrl?: string
  readonly [k: string]: unknown
}
