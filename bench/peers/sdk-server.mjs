#!/usr/bin/env node
// Copied unchanged (but for this line) from the project's neutral benchmark kit, shared/bench (bench/peers/README.md).
/**
 * sdk-server.mjs — baseline MCP server built with the official TypeScript SDK
 * (@modelcontextprotocol/sdk 1.x), Streamable HTTP, STATEFUL mode.
 *
 * Usage:
 *   node sdk-server.mjs [--port 3101] [--host 127.0.0.1] [--json] [--express]
 *
 *   --json     enableJsonResponse: true (answer POSTs with application/json
 *              instead of the SDK default text/event-stream)
 *   --express  serve through the SDK's createMcpExpressApp() (express 5 +
 *              express.json() + localhost Host-header validation), as the SDK
 *              examples do. Default: plain node:http, body parsed by hand.
 *   --shared-validator  pass ONE AjvJsonSchemaValidator to every per-session
 *              McpServer (by default each McpServer builds its own Ajv
 *              instance, which dominates session set-up cost).
 *
 * Shape follows the SDK example examples/server/simpleStreamableHttp.js:
 *   - one McpServer + one StreamableHTTPServerTransport PER SESSION
 *     (sessionIdGenerator: randomUUID), kept in a Map keyed by session id,
 *     registered in onsessioninitialized, removed in transport.onclose;
 *   - POST without session id + initialize -> new session; unknown id -> 404;
 *   - GET/DELETE routed to the session's transport (DELETE closes it).
 * Deliberately NOT copied from the example: the InMemoryEventStore
 * (resumability), MAX_SESSIONS=1000 cap and the 30-min idle reaper, so the
 * benchmark sees the SDK's own behaviour.
 *
 * One tool: echo {text} -> content [{type:'text', text}].
 *
 * Bench-only endpoint (ignored by any MCP client):
 *   GET /__stats[?gc=1] -> {sessions, rss, heapUsed, external, arrayBuffers}
 *   (gc=1 forces a full GC first when started with node --expose-gc)
 * Listens on 127.0.0.1 only. Stops on SIGTERM/SIGINT.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const PORT = Number(opt('--port', process.env.PORT ?? 3101));
const HOST = opt('--host', '127.0.0.1');
const JSON_MODE = argv.includes('--json');
const USE_EXPRESS = argv.includes('--express');
const SHARED_VALIDATOR = argv.includes('--shared-validator');
let sharedValidator;
if (SHARED_VALIDATOR) {
  const { AjvJsonSchemaValidator } = await import('@modelcontextprotocol/sdk/validation/ajv');
  sharedValidator = new AjvJsonSchemaValidator();
}

/** session id -> transport */
const transports = new Map();

function newMcpServer() {
  const server = new McpServer(
    { name: 'sdk-bench-server', version: '1.0.0' },
    sharedValidator ? { jsonSchemaValidator: sharedValidator } : undefined
  );
  server.registerTool(
    'echo',
    { description: 'Echo the text back', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] })
  );
  return server;
}

function stats(url) {
  if (url.includes('gc=1') && typeof globalThis.gc === 'function') globalThis.gc();
  const m = process.memoryUsage();
  return JSON.stringify({
    sessions: transports.size,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers
  });
}

function sendJsonError(res, status, code, message) {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The MCP route, shared by the node:http and express front ends. */
async function handleMcp(req, res, body) {
  const sid = req.headers['mcp-session-id'];
  try {
    if (req.method === 'POST') {
      if (sid) {
        const t = transports.get(sid);
        if (!t) return sendJsonError(res, 404, -32001, 'Session not found');
        return await t.handleRequest(req, res, body);
      }
      if (!isInitializeRequest(body)) {
        return sendJsonError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: JSON_MODE,
        onsessioninitialized: (id) => {
          transports.set(id, transport);
        }
      });
      transport.onclose = () => {
        const id = transport.sessionId;
        if (id) transports.delete(id);
      };
      const server = newMcpServer();
      await server.connect(transport);
      return await transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (!sid) return sendJsonError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      const t = transports.get(sid);
      if (!t) return sendJsonError(res, 404, -32001, 'Session not found');
      return await t.handleRequest(req, res);
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' });
    res.end();
  } catch (err) {
    console.error('[sdk-server] error', err);
    if (!res.headersSent) sendJsonError(res, 500, -32603, 'Internal server error');
  }
}

let server;
if (USE_EXPRESS) {
  const { createMcpExpressApp } = await import('@modelcontextprotocol/sdk/server/express.js');
  const app = createMcpExpressApp({ host: HOST });
  app.get('/__stats', (req, res) => {
    res.type('application/json').send(stats(req.url));
  });
  app.all('/mcp', (req, res) => handleMcp(req, res, req.body));
  server = http.createServer(app);
} else {
  server = http.createServer((req, res) => {
    if (req.url.startsWith('/__stats')) {
      const b = stats(req.url);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(b);
    }
    if (!req.url.startsWith('/mcp')) {
      res.writeHead(404);
      return res.end();
    }
    if (req.method !== 'POST') return handleMcp(req, res, undefined);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return sendJsonError(res, 400, -32700, 'Parse error');
      }
      handleMcp(req, res, body);
    });
  });
}

server.keepAliveTimeout = 65_000;
server.listen(PORT, HOST, () => {
  console.error(
    `[sdk-server] pid=${process.pid} listening http://${HOST}:${PORT}/mcp ` +
      `(front=${USE_EXPRESS ? 'express' : 'node:http'}, responses=${JSON_MODE ? 'json' : 'sse'}` +
        `${SHARED_VALIDATOR ? ', shared validator' : ''})`
  );
});

const stop = () => {
  for (const t of transports.values()) t.close().catch(() => {});
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
