/**
 * The default example server (`mcp-actors serve --example demo`): echo, a
 * progress-reporting count, logging, a slow cancellable call, a resource, a
 * resource template and a prompt.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { McpServer } from "../src/server/McpServer.ts"


export const makeDemoServer = (): McpServer =>
  new McpServer({ name: "mcp-actors-demo", version: "0.1.0", instructions: "A demo server: try echo, count, log and slow." })
    .tool(
      {
        name: "echo",
        description: "Echo the text back",
        inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
        annotations: { readOnlyHint: true, idempotentHint: true }
      },
      (args) => ({ content: [{ type: "text", text: args.text as string }] })
    )
    .tool(
      {
        name: "count",
        description: "Count to n, reporting progress after each step (stepMs apart)",
        inputSchema: {
          type: "object",
          properties: { n: { type: "integer", minimum: 1, maximum: 1000 }, stepMs: { type: "integer", minimum: 0, maximum: 10000 } },
          required: ["n"]
        },
        outputSchema: { type: "object", properties: { counted: { type: "integer" } }, required: ["counted"] }
      },
      async (args, ctx) => {
        const n = args.n as number
        const stepMs = (args.stepMs as number | undefined) ?? 10
        for (let i = 1; i <= n; i++) {
          await sleep(stepMs, undefined, { signal: ctx.signal })
          ctx.progress(i, n, `step ${i} of ${n}`)
        }
        return { content: [{ type: "text", text: `counted to ${n}` }], structuredContent: { counted: n } }
      }
    )
    .tool(
      {
        name: "log",
        description: "Send a log message at the given level, then return",
        inputSchema: {
          type: "object",
          properties: {
            level: { type: "string", enum: ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] },
            message: { type: "string" }
          },
          required: ["message"]
        }
      },
      (args, ctx) => {
        ctx.log((args.level as "info" | undefined) ?? "info", args.message, "demo")
        return { content: [{ type: "text", text: `logged: ${args.message as string}` }] }
      }
    )
    .tool(
      {
        name: "slow",
        description: "Wait ms milliseconds (cancellable), then answer",
        inputSchema: { type: "object", properties: { ms: { type: "integer", minimum: 0, maximum: 600000 } }, required: ["ms"] }
      },
      async (args, ctx) => {
        await sleep(args.ms as number, undefined, { signal: ctx.signal })
        return { content: [{ type: "text", text: `waited ${args.ms as number} ms` }] }
      }
    )
    .resource(
      { uri: "demo://readme", name: "readme", mimeType: "text/plain", description: "What this server is" },
      (uri) => ({ contents: [{ uri, mimeType: "text/plain", text: "mcp-actors demo server" }] })
    )
    .resourceTemplate(
      { uriTemplate: "demo://greeting/{name}", name: "greeting", mimeType: "text/plain" },
      (uri, vars) => ({ contents: [{ uri, mimeType: "text/plain", text: `Hello, ${vars.name}!` }] })
    )
    .prompt(
      { name: "greet", description: "Greet someone", arguments: [{ name: "name", required: true }] },
      (args) => ({ messages: [{ role: "user", content: { type: "text", text: `Please greet ${args.name}.` } }] })
    )
    .completion((req) => {
      const names = ["Ada", "Alan", "Grace", "Barbara"]
      const values = req.argument.name === "name" ? names.filter((n) => n.toLowerCase().startsWith(req.argument.value.toLowerCase())) : []
      return { completion: { values, total: values.length, hasMore: false } }
    })
