#!/usr/bin/env node
// Copied unchanged (but for this line) from the project's neutral benchmark kit, shared/bench (bench/peers/README.md).
/**
 * sdk-stdio-server.mjs — baseline MCP server with the official TypeScript SDK
 * over stdio (StdioServerTransport, newline-delimited JSON-RPC).
 *
 * Usage (normally spawned by the driver):
 *   node mcp-bench.mjs stdio-calls --cmd "node sdk-stdio-server.mjs" --duration 10
 *
 * One tool: echo {text} -> content [{type:'text', text}]. Exits when stdin closes.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'sdk-bench-stdio-server', version: '1.0.0' });
server.registerTool(
  'echo',
  { description: 'Echo the text back', inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: 'text', text }] })
);

const transport = new StdioServerTransport();
await server.connect(transport);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
