// force-localhost.cjs: make Node servers that listen without a host bind 127.0.0.1 only.
// (Vendored copy of ../shared/tools/force-localhost.cjs so the conformance tests do not depend on files outside the project.)
//
// Usage (from the project root; an absolute path keeps it valid in spawned children):
//   NODE_OPTIONS="--require $PWD/test/conformance/force-localhost.cjs" \
//     npx conformance client --command "<client command>" --suite all -o results/client
//   node --require test/conformance/force-localhost.cjs some-server.js
//
// Preload (node --require): make net/http servers that call listen(port[, cb]) / listen({port}) without a host
// bind 127.0.0.1 only, while keeping server.address() usable synchronously right after listen() (the conformance
// runner relies on that), by pre-binding a TCP handle. A listen() with an explicit host, a path, a handle or an fd
// is left alone. Uses the internal tcp_wrap binding (works on Node 22 and 24).
const net = require('net');
const { TCP, constants: TCPConstants } = process.binding('tcp_wrap');
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  let port, rest;
  if (args.length === 0 || typeof args[0] === 'function') { port = 0; rest = args; }
  else if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] === 'string') return orig.apply(this, args); // explicit host given
    port = Number(args[0]); rest = args.slice(1);
  } else if (args[0] && typeof args[0] === 'object' && !(args[0] instanceof TCP) && args[0].path === undefined &&
             args[0].host === undefined && args[0].fd === undefined && args[0]._handle === undefined && args[0].handle === undefined) {
    port = Number(args[0].port || 0); rest = args.slice(1);
  } else return orig.apply(this, args);
  const cb = rest.find(a => typeof a === 'function');
  const h = new TCP(TCPConstants.SERVER);
  const err = h.bind('127.0.0.1', port);
  if (err) { h.close(); return orig.call(this, port, '127.0.0.1', ...rest); }
  return cb ? orig.call(this, h, cb) : orig.call(this, h);
};
