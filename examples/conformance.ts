/**
 * The conformance fixture server (`mcp-actors serve --http 0 --example conformance`):
 * every tool, resource, prompt and completion that
 * `@modelcontextprotocol/conformance` 0.1.16 server scenarios call by name
 * (`/work/shared/docs/conformance.md` §4.1). Names, payloads and schemas follow
 * the reference fixture `examples/servers/typescript/everything-server.ts` of
 * the `modelcontextprotocol/conformance` repository, so a scenario that passes
 * against the reference passes against us for the same reason.
 *
 * Differences from the reference, on purpose:
 * - `json_schema_2020_12_tool` needs no tools/list override: our server lists
 *   every inputSchema verbatim (SEP-1613), so `$schema`, `$defs` and
 *   `additionalProperties` survive.
 * - `test_error_handling` throws a plain Error and relies on the dispatch
 *   table turning it into `isError: true` (a tool execution error, not a
 *   JSON-RPC error), which is what the scenario checks.
 * - `test_reconnection` closes the request's SSE stream through
 *   {@link ConformanceServerOptions.closeRequestStream}, a hook the HTTP
 *   transport provides; without one it still answers (the scenario then only
 *   reports INFO "server did not disconnect mid-call").
 */
import { setTimeout as sleep } from "node:timers/promises"
import { McpServer } from "../src/server/McpServer.ts"
import type { RequestContext } from "../src/server/RequestContext.ts"
import type { CallToolResult } from "../src/server/types.ts"

/** A 1×1 red PNG. */
export const TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
/** A minimal WAV file. */
export const TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

/** SEP-1613: a raw JSON Schema 2020-12 document whose keywords must survive tools/list. */
export const JSON_SCHEMA_2020_12_INPUT_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  $defs: {
    address: {
      type: "object",
      properties: { street: { type: "string" }, city: { type: "string" } }
    }
  },
  properties: {
    name: { type: "string" },
    address: { $ref: "#/$defs/address" }
  },
  additionalProperties: false
} as const

export const WATCHED_RESOURCE_URI = "test://watched-resource"

export interface ConformanceServerOptions {
  /**
   * SEP-1699 polling: close the HTTP response stream that carries this
   * request's answer (after a `retry:` field), keeping the request alive so
   * the answer is replayed on GET + `Last-Event-ID`. Returns false when the
   * transport cannot (stdio, JSON responses). Supplied by the Streamable HTTP
   * transport; absent elsewhere.
   */
  readonly closeRequestStream?: (ctx: RequestContext) => boolean
  /** Send `notifications/resources/updated` for the watched resource this often (0 = never; default 0). */
  readonly watchedUpdateMs?: number
}


const text = (t: string): CallToolResult => ({ content: [{ type: "text", text: t }] })
const failure = (t: string): CallToolResult => ({ content: [{ type: "text", text: t }], isError: true })
const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** No arguments at all (the conformance client sends `{}`). */
const NO_ARGS = { type: "object", properties: {} } as const

/**
 * Looks for a stream-closing hook the transport may have attached to the
 * request context (duck-typed so the fixture does not depend on the HTTP
 * transport's module): `ctx.closeSSEStream()` or `ctx.closeStream()`.
 */
const contextStreamCloser = (ctx: RequestContext): boolean => {
  const c = ctx as unknown as { closeSSEStream?: () => unknown; closeStream?: () => unknown }
  const close = c.closeSSEStream ?? c.closeStream
  if (typeof close !== "function") return false
  return close.call(ctx) !== false
}

export const makeConformanceServer = (options: ConformanceServerOptions = {}): McpServer => {
  const server = new McpServer({
    name: "mcp-actors-conformance",
    version: "0.1.0",
    instructions: "Fixture server for @modelcontextprotocol/conformance server scenarios."
  })

  // ---------------------------------------------------------------- tools: content types
  server
    .tool(
      { name: "test_simple_text", description: "Tests simple text content response", inputSchema: NO_ARGS },
      () => text("This is a simple text response for testing.")
    )
    .tool(
      { name: "test_image_content", description: "Tests image content response", inputSchema: NO_ARGS },
      () => ({ content: [{ type: "image", data: TEST_IMAGE_BASE64, mimeType: "image/png" }] })
    )
    .tool(
      { name: "test_audio_content", description: "Tests audio content response", inputSchema: NO_ARGS },
      () => ({ content: [{ type: "audio", data: TEST_AUDIO_BASE64, mimeType: "audio/wav" }] })
    )
    .tool(
      { name: "test_embedded_resource", description: "Tests embedded resource content response", inputSchema: NO_ARGS },
      () => ({
        content: [{
          type: "resource",
          resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." }
        }]
      })
    )
    .tool(
      { name: "test_multiple_content_types", description: "Tests response with multiple content types (text, image, resource)", inputSchema: NO_ARGS },
      () => ({
        content: [
          { type: "text", text: "Multiple content types test:" },
          { type: "image", data: TEST_IMAGE_BASE64, mimeType: "image/png" },
          {
            type: "resource",
            resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: JSON.stringify({ test: "data", value: 123 }) }
          }
        ]
      })
    )

  // ---------------------------------------------------------------- tools: notifications during a call
  server
    .tool(
      { name: "test_tool_with_logging", description: "Tests tool that emits log messages during execution", inputSchema: NO_ARGS },
      async (_args, ctx) => {
        // Three info messages ~50 ms apart: the scenario checks that several arrive during one call.
        ctx.log("info", "Tool execution started", "conformance")
        await sleep(50, undefined, { signal: ctx.signal })
        ctx.log("info", "Tool processing data", "conformance")
        await sleep(50, undefined, { signal: ctx.signal })
        ctx.log("info", "Tool execution completed", "conformance")
        return text("Tool with logging executed successfully")
      }
    )
    .tool(
      { name: "test_tool_with_progress", description: "Tests tool that reports progress notifications", inputSchema: NO_ARGS },
      async (_args, ctx) => {
        for (const step of [0, 50, 100]) {
          if (step > 0) await sleep(50, undefined, { signal: ctx.signal })
          ctx.progress(step, 100, `Completed step ${step} of 100`)
        }
        return text(String(ctx.meta?.progressToken ?? "no progress token"))
      }
    )
    .tool(
      { name: "test_error_handling", description: "Tests error response handling", inputSchema: NO_ARGS },
      () => {
        throw new Error("This tool intentionally returns an error for testing")
      }
    )
    .tool(
      {
        name: "test_reconnection",
        description:
          "Tests SSE stream disconnection and client reconnection (SEP-1699). The server closes the stream mid-call and sends the result after the client reconnects.",
        inputSchema: NO_ARGS
      },
      async (_args, ctx) => {
        const closed = options.closeRequestStream ? options.closeRequestStream(ctx) : contextStreamCloser(ctx)
        // Give the client time to reconnect with GET + Last-Event-ID; the answer is then replayed there.
        await sleep(100, undefined, { signal: ctx.signal })
        return text(
          closed
            ? "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."
            : "Reconnection test completed (the transport could not close the stream mid-call)."
        )
      }
    )

  // ---------------------------------------------------------------- tools: server→client requests
  server
    .tool(
      {
        name: "test_sampling",
        description: "Tests server-initiated sampling (LLM completion request)",
        inputSchema: { type: "object", properties: { prompt: { type: "string", description: "The prompt to send to the LLM" } }, required: ["prompt"] }
      },
      async (args, ctx) => {
        try {
          const result = await ctx.createMessage({
            messages: [{ role: "user", content: { type: "text", text: args.prompt as string } }],
            maxTokens: 100
          }, { signal: ctx.signal })
          const content = result.content as { text?: string } | undefined
          return text(`LLM response: ${content?.text ?? "No response"}`)
        } catch (e) {
          return failure(`Sampling not supported or error: ${message(e)}`)
        }
      }
    )
    .tool(
      {
        name: "test_elicitation",
        description: "Tests server-initiated elicitation (user input request)",
        inputSchema: { type: "object", properties: { message: { type: "string", description: "The message to show the user" } }, required: ["message"] }
      },
      async (args, ctx) => {
        try {
          const result = await ctx.elicit({
            message: args.message as string,
            requestedSchema: {
              type: "object",
              properties: {
                username: { type: "string", description: "User's response" },
                email: { type: "string", description: "User's email address" }
              },
              required: ["username", "email"]
            }
          }, { signal: ctx.signal })
          return text(`User response: action=${String(result.action)}, content=${JSON.stringify(result.content ?? {})}`)
        } catch (e) {
          return failure(`Elicitation not supported or error: ${message(e)}`)
        }
      }
    )
    .tool(
      { name: "test_elicitation_sep1034_defaults", description: "Tests elicitation with default values per SEP-1034", inputSchema: NO_ARGS },
      async (_args, ctx) => {
        try {
          const result = await ctx.elicit({
            message: "Please review and update the form fields with defaults",
            requestedSchema: {
              type: "object",
              properties: {
                name: { type: "string", description: "User name", default: "John Doe" },
                age: { type: "integer", description: "User age", default: 30 },
                score: { type: "number", description: "User score", default: 95.5 },
                status: { type: "string", description: "User status", enum: ["active", "inactive", "pending"], default: "active" },
                verified: { type: "boolean", description: "Verification status", default: true }
              },
              required: []
            }
          }, { signal: ctx.signal })
          return text(`Elicitation completed: action=${String(result.action)}, content=${JSON.stringify(result.content ?? {})}`)
        } catch (e) {
          return failure(`Elicitation not supported or error: ${message(e)}`)
        }
      }
    )
    .tool(
      { name: "test_elicitation_sep1330_enums", description: "Tests elicitation with enum schema improvements per SEP-1330", inputSchema: NO_ARGS },
      async (_args, ctx) => {
        try {
          const result = await ctx.elicit({
            message: "Please select options from the enum fields",
            requestedSchema: {
              type: "object",
              properties: {
                untitledSingle: { type: "string", description: "Select one option", enum: ["option1", "option2", "option3"] },
                titledSingle: {
                  type: "string",
                  description: "Select one option with titles",
                  oneOf: [
                    { const: "value1", title: "First Option" },
                    { const: "value2", title: "Second Option" },
                    { const: "value3", title: "Third Option" }
                  ]
                },
                legacyEnum: {
                  type: "string",
                  description: "Select one option (legacy)",
                  enum: ["opt1", "opt2", "opt3"],
                  enumNames: ["Option One", "Option Two", "Option Three"]
                },
                untitledMulti: {
                  type: "array",
                  description: "Select multiple options",
                  minItems: 1,
                  maxItems: 3,
                  items: { type: "string", enum: ["option1", "option2", "option3"] }
                },
                titledMulti: {
                  type: "array",
                  description: "Select multiple options with titles",
                  minItems: 1,
                  maxItems: 3,
                  items: {
                    anyOf: [
                      { const: "value1", title: "First Choice" },
                      { const: "value2", title: "Second Choice" },
                      { const: "value3", title: "Third Choice" }
                    ]
                  }
                }
              },
              required: []
            }
          }, { signal: ctx.signal })
          return text(`Elicitation completed: action=${String(result.action)}, content=${JSON.stringify(result.content ?? {})}`)
        } catch (e) {
          return failure(`Elicitation not supported or error: ${message(e)}`)
        }
      }
    )

  // ---------------------------------------------------------------- tools: schema preservation
  server.tool(
    {
      name: "json_schema_2020_12_tool",
      description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
      inputSchema: JSON_SCHEMA_2020_12_INPUT_SCHEMA
    },
    (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`)
  )

  // ---------------------------------------------------------------- resources
  server
    .resource(
      { uri: "test://static-text", name: "static-text", title: "Static Text Resource", description: "A static text resource for testing", mimeType: "text/plain" },
      (uri) => ({ contents: [{ uri, mimeType: "text/plain", text: "This is the content of the static text resource." }] })
    )
    .resource(
      { uri: "test://static-binary", name: "static-binary", title: "Static Binary Resource", description: "A static binary resource (image) for testing", mimeType: "image/png" },
      (uri) => ({ contents: [{ uri, mimeType: "image/png", blob: TEST_IMAGE_BASE64 }] })
    )
    .resourceTemplate(
      { uriTemplate: "test://template/{id}/data", name: "template", title: "Resource Template", description: "A resource template with parameter substitution", mimeType: "application/json" },
      (uri, vars) => ({
        contents: [{ uri, mimeType: "application/json", text: JSON.stringify({ id: vars.id, templateTest: true, data: `Data for ID: ${vars.id}` }) }]
      })
    )

  let watchedVersion = 0
  server.resource(
    { uri: WATCHED_RESOURCE_URI, name: "watched-resource", title: "Watched Resource", description: "A resource clients can subscribe to", mimeType: "text/plain" },
    (uri) => ({ contents: [{ uri, mimeType: "text/plain", text: watchedVersion === 0 ? "Watched resource content" : `Watched resource content (update ${watchedVersion})` }] })
  )
  if (options.watchedUpdateMs !== undefined && options.watchedUpdateMs > 0) {
    // Subscribed sessions get notifications/resources/updated; the timer never keeps the process alive.
    setInterval(() => {
      watchedVersion++
      server.resourceUpdated(WATCHED_RESOURCE_URI)
    }, options.watchedUpdateMs).unref()
  }

  // ---------------------------------------------------------------- prompts
  server
    .prompt(
      { name: "test_simple_prompt", title: "Simple Test Prompt", description: "A simple prompt without arguments" },
      () => ({ messages: [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }] })
    )
    .prompt(
      {
        name: "test_prompt_with_arguments",
        title: "Prompt With Arguments",
        description: "A prompt with required arguments",
        arguments: [
          { name: "arg1", description: "First test argument", required: true },
          { name: "arg2", description: "Second test argument", required: true }
        ]
      },
      (args) => ({ messages: [{ role: "user", content: { type: "text", text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` } }] })
    )
    .prompt(
      {
        name: "test_prompt_with_embedded_resource",
        title: "Prompt With Embedded Resource",
        description: "A prompt that includes an embedded resource",
        arguments: [{ name: "resourceUri", description: "URI of the resource to embed", required: true }]
      },
      (args) => ({
        messages: [
          { role: "user", content: { type: "resource", resource: { uri: args.resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } } },
          { role: "user", content: { type: "text", text: "Please process the embedded resource above." } }
        ]
      })
    )
    .prompt(
      { name: "test_prompt_with_image", title: "Prompt With Image", description: "A prompt that includes image content" },
      () => ({
        messages: [
          { role: "user", content: { type: "image", data: TEST_IMAGE_BASE64, mimeType: "image/png" } },
          { role: "user", content: { type: "text", text: "Please analyze the image above." } }
        ]
      })
    )

  // ---------------------------------------------------------------- completion
  const suggestions: Readonly<Record<string, ReadonlyArray<string>>> = {
    arg1: ["paris", "park", "party", "test-value-1", "test-value-2"],
    arg2: ["alpha", "beta", "gamma"]
  }
  server.completion((req) => {
    const known = req.ref.type === "ref/prompt" && req.ref.name === "test_prompt_with_arguments" ? suggestions[req.argument.name] ?? [] : []
    const prefix = req.argument.value.toLowerCase()
    const values = known.filter((v) => v.toLowerCase().startsWith(prefix))
    return { completion: { values, total: values.length, hasMore: false } }
  })

  return server
}
