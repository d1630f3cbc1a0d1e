/**
 * MCP result and definition shapes the server API works with (a structural
 * subset of `schema/2025-11-25/schema.ts`; extra fields pass through untouched).
 */
/** A JSON Schema object (tool `inputSchema`/`outputSchema`), kept as plain data. */
export type JsonSchema = { readonly [key: string]: unknown }

// The content and result shapes are the protocol's (`src/protocol/results.ts`): one type per MCP shape,
// what a handler returns and what a client gets alike.
export type {
  AudioContent,
  CallToolResult,
  CompleteResult,
  GetPromptResult,
  ImageContent,
  PromptArgument,
  PromptMessage,
  ReadResourceResult,
  ResourceContents,
  TextContent
} from "../protocol/results.ts"
import type { ContentBlock, EmbeddedResource, PromptArgument, ResourceLink } from "../protocol/results.ts"
/** A link to a resource the client may read, instead of its contents. */
export type ResourceLinkContent = ResourceLink
/** A resource's contents embedded in a tool result or prompt message. */
export type EmbeddedResourceContent = EmbeddedResource
/** Any content block of a tool result or prompt message. */
export type Content = ContentBlock

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

/** A prompt as `prompts/list` shows it. */
export interface PromptDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly arguments?: ReadonlyArray<PromptArgument>
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
