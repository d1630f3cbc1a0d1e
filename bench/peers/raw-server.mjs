#!/usr/bin/env node
// Copied unchanged (but for this line) from the project's neutral benchmark kit, shared/bench (bench/peers/README.md).
/**
 * raw-server.mjs — "physical ceiling" MCP Streamable HTTP server for Node:
 * plain node:http, no framework, no schema validation, minimal correct work.
 *
 * Usage:
 *   node raw-server.mjs [--port 3103] [--host 127.0.0.1] [--sse]
 *
 *   --sse   answer requests as text/event-stream (`event: message\ndata: …`)
 *           instead of application/json, to isolate the cost of SSE framing.
 *
 * Behaviour (stateful, protocol 2025-06-18 semantics):
 *   POST initialize (no session header)   -> 200 JSON result + Mcp-Session-Id (randomUUID)
 *   POST with unknown Mcp-Session-Id      -> 404 (-32001 Session not found)
 *   POST without Mcp-Session-Id (non-init)-> 400
 *   POST notification / response          -> 202, empty body
 *   POST tools/call echo {text}           -> 200 {content:[{type:'text',text}]}
 *   POST ping                             -> 200 {}
 *   POST tools/list                       -> 200 static list
 *   other methods                         -> -32601
 *   Accept must list application/json and text/event-stream (406 otherwise),
 *   Content-Type must be application/json (415 otherwise).
 *   DELETE with session                   -> 200, session dropped
 *   GET                                   -> 405 (no server-initiated stream)
 * A session is a Map entry {created, initialized, protocolVersion}; nothing
 * expires by itself (same as the SDK) so idle memory is comparable.
 *
 * Bench-only endpoint: GET /__stats[?gc=1] -> {sessions, rss, heapUsed, ...}
 * Listens on 127.0.0.1 only. Stops on SIGTERM/SIGINT.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const PORT = Number(opt('--port', process.env.PORT ?? 3103));
const HOST = opt('--host', '127.0.0.1');
const SSE = argv.includes('--sse');

const SUPPORTED = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const TOOLS = {
  tools: [
    {
      name: 'echo',
      description: 'Echo the text back',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }
    }
  ]
};

/** session id -> { created, initialized, protocolVersion } */
const sessions = new Map();

function send(res, status, obj, extraHeaders) {
  if (SSE && status === 200 && obj) {
    const body = `event: message\ndata: ${JSON.stringify(obj)}\n\n`;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'content-length': Buffer.byteLength(body),
      ...extraHeaders
    });
    return res.end(body);
  }
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders
  });
  res.end(body);
}
const rpcError = (res, status, code, message, id = null) =>
  send(res, status, { jsonrpc: '2.0', id, error: { code, message } });

function handleMessage(msg, sid, res) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || msg.jsonrpc !== '2.0') {
    return rpcError(res, 400, -32600, 'Invalid Request');
  }
  const isRequest = typeof msg.method === 'string' && msg.id !== undefined && msg.id !== null;
  if (msg.method === 'initialize') {
    if (sid) return rpcError(res, 400, -32600, 'Invalid Request: initialize with a session id', msg.id);
    const requested = msg.params?.protocolVersion;
    const protocolVersion = SUPPORTED.includes(requested) ? requested : SUPPORTED[0];
    const id = randomUUID();
    sessions.set(id, { created: Date.now(), initialized: false, protocolVersion });
    return send(
      res,
      200,
      {
        jsonrpc: '2.0',
        id: msg.id,
        result: {
          protocolVersion,
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: 'raw-bench-server', version: '1.0.0' }
        }
      },
      { 'mcp-session-id': id }
    );
  }
  if (!sid) return rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
  const s = sessions.get(sid);
  if (!s) return rpcError(res, 404, -32001, 'Session not found');
  if (!isRequest) {
    // notification or response from client
    if (msg.method === 'notifications/initialized') s.initialized = true;
    res.writeHead(202, { 'content-length': 0 });
    return res.end();
  }
  switch (msg.method) {
    case 'tools/call': {
      const p = msg.params;
      if (p?.name !== 'echo' || typeof p.arguments?.text !== 'string') {
        return send(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: 'Invalid params' } });
      }
      return send(res, 200, {
        jsonrpc: '2.0',
        id: msg.id,
        result: { content: [{ type: 'text', text: p.arguments.text }] }
      });
    }
    case 'ping':
      return send(res, 200, { jsonrpc: '2.0', id: msg.id, result: {} });
    case 'tools/list':
      return send(res, 200, { jsonrpc: '2.0', id: msg.id, result: TOOLS });
    default:
      return send(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
  }
}

const server = http.createServer((req, res) => {
  const url = req.url;
  if (url.startsWith('/__stats')) {
    if (url.includes('gc=1') && typeof globalThis.gc === 'function') globalThis.gc();
    const m = process.memoryUsage();
    return send(res, 200, { sessions: sessions.size, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers });
  }
  if (!url.startsWith('/mcp')) {
    res.writeHead(404);
    return res.end();
  }
  const sid = req.headers['mcp-session-id'];
  if (req.method === 'DELETE') {
    if (!sid) return rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    if (!sessions.delete(sid)) return rpcError(res, 404, -32001, 'Session not found');
    res.writeHead(200, { 'content-length': 0 });
    return res.end();
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST, DELETE', 'content-length': 0 });
    return res.end();
  }
  const accept = req.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    return rpcError(res, 406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
  }
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return rpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    } catch {
      return rpcError(res, 400, -32700, 'Parse error');
    }
    handleMessage(msg, sid, res);
  });
});

server.keepAliveTimeout = 65_000;
server.listen(PORT, HOST, () => {
  console.error(`[raw-server] pid=${process.pid} listening http://${HOST}:${PORT}/mcp (responses=${SSE ? 'sse' : 'json'})`);
});
const stop = () => {
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
