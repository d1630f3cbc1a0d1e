#!/usr/bin/env node
// Copied unchanged (but for this line) from the project's neutral benchmark kit, shared/bench (bench/peers/README.md).
/**
 * raw-stdio-server.mjs — "physical ceiling" MCP stdio server: newline-delimited
 * JSON-RPC on stdin/stdout, no SDK, minimal work. Answers initialize, ping,
 * tools/list, tools/call echo; ignores notifications; -32601 otherwise.
 * Replies are batched per input chunk (one stdout write per 'data' event).
 *
 * Usage (normally spawned by the driver):
 *   node mcp-bench.mjs stdio-calls --cmd "node raw-stdio-server.mjs" --duration 10
 * Exits when stdin closes.
 */
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

function reply(msg) {
  if (msg === null || typeof msg !== 'object' || msg.id === undefined || msg.id === null) return null; // notification/response
  const id = msg.id;
  switch (msg.method) {
    case 'initialize': {
      const v = msg.params?.protocolVersion;
      return {
        jsonrpc: '2.0',
        id,
        result: {
          protocolVersion: SUPPORTED.includes(v) ? v : SUPPORTED[0],
          capabilities: { tools: { listChanged: false } },
          serverInfo: { name: 'raw-bench-stdio-server', version: '1.0.0' }
        }
      };
    }
    case 'tools/call': {
      const p = msg.params;
      if (p?.name !== 'echo' || typeof p.arguments?.text !== 'string') {
        return { jsonrpc: '2.0', id, error: { code: -32602, message: 'Invalid params' } };
      }
      return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: p.arguments.text }] } };
    }
    case 'ping':
      return { jsonrpc: '2.0', id, result: {} };
    case 'tools/list':
      return { jsonrpc: '2.0', id, result: TOOLS };
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
  }
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let out = '';
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (!line.trim()) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      out += JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }) + '\n';
      continue;
    }
    const r = reply(msg);
    if (r) out += JSON.stringify(r) + '\n';
  }
  if (out) process.stdout.write(out);
});
process.stdin.on('end', () => process.exit(0));
