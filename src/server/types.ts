/**
 * MCP result and definition shapes the server API works with (a structural
 * subset of `schema/2025-11-25/schema.ts`; extra fields pass through untouched).
 */
export type JsonSchema = { readonly [key: string]: unknown }

export interface TextContent { readonly type: "text"; readonly text: string; readonly [k: string]: unknown }
export interface ImageContent { readonly type: "image"; readonly data: string; readonly mimeType: string; readonly [k: string]: unknown }
export interface AudioContent { readonly type: "audio"; readonly data: string; readonly mimeType: string; readonly [k: string]: unknown }
export interface ResourceLinkContent { readonly type: "resource_link"; readonly uri: string; readonly name: string; readonly [k: string]: unknown }
export interface EmbeddedResourceContent { readonly type: "resource"; readonly resource: ResourceContents; readonly [k: string]: unknown }
export type Content = TextContent | ImageContent | AudioContent | ResourceLinkContent | EmbeddedResourceContent

export type ResourceContents =
  | { readonly uri: string; readonly mimeType?: string; readonly text: string; readonly [k: string]: unknown }
  | { readonly uri: string; readonly mimeType?: string; readonly blob: string; readonly [k: string]: unknown }

export interface CallToolResult {
  readonly content: ReadonlyArray<Content>
  readonly structuredContent?: { readonly [key: string]: unknown }
  readonly isError?: boolean
  readonly [k: string]: unknown
}

export interface ToolAnnotations {
  readonly title?: string
  readonly readOnlyHint?: boolean
  readonly destructiveHint?: boolean
  readonly idempotentHint?: boolean
  readonly openWorldHint?: boolean
}

export interface ToolDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema?: JsonSchema
  readonly outputSchema?: JsonSchema
  readonly annotations?: ToolAnnotations
  readonly _meta?: { readonly [key: string]: unknown }
}

export interface ResourceDefinition {
  readonly uri: string
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly mimeType?: string
  readonly size?: number
}

export interface ResourceTemplateDefinition {
  readonly uriTemplate: string
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly mimeType?: string
}

export interface ReadResourceResult { readonly contents: ReadonlyArray<ResourceContents>; readonly [k: string]: unknown }

export interface PromptArgument { readonly name: string; readonly description?: string; readonly required?: boolean }
export interface PromptDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly arguments?: ReadonlyArray<PromptArgument>
}
export interface PromptMessage { readonly role: "user" | "assistant"; readonly content: Content }
export interface GetPromptResult { readonly description?: string; readonly messages: ReadonlyArray<PromptMessage>; readonly [k: string]: unknown }

export interface CompleteResult {
  readonly completion: { readonly values: ReadonlyArray<string>; readonly total?: number; readonly hasMore?: boolean }
}

export const LOGGING_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const
export type LoggingLevel = (typeof LOGGING_LEVELS)[number]
export const isLoggingLevel = (v: unknown): v is LoggingLevel => typeof v === "string" && (LOGGING_LEVELS as ReadonlyArray<string>).includes(v)
export const levelRank = (l: LoggingLevel): number => LOGGING_LEVELS.indexOf(l)

export interface Implementation {
  readonly name: string
  readonly version: string
  readonly title?: string
  readonly description?: string
  readonly websiteUrl?: string
  readonly [k: string]: unknown
}
