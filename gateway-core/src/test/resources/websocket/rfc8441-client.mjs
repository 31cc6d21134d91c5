// A WebSocket client over HTTP/2 (RFC 8441) on Node's own HTTP/2 stack (nghttp2), for WebSocketNodeClientTest.
// Usage: node rfc8441-client.mjs PORT PATH
// Connects with h2c prior knowledge, waits for SETTINGS_ENABLE_CONNECT_PROTOCOL, opens the extended CONNECT, then
// sends (masked, as a client must) a text message, a 256 KiB binary message, a ping and a close with code 4005,
// and prints one JSON line per thing it receives: {"status":..}, {"text":..}, {"binary":<length>,"sum":..},
// {"pong":..}, {"close":<code>,"reason":..}, {"end":true}. Exits 0 once the stream ended, 2 on an error.
import http2 from 'node:http2';
import crypto from 'node:crypto';

const [port, path] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(2); };
setTimeout(() => fail('timed out'), 20000).unref();

function frame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = 0x80 | len;
  else if (len < 65536) { head[1] = 0x80 | 126; head.writeUInt16BE(len, 2); }
  else { head[1] = 0x80 | 127; head.writeBigUInt64BE(BigInt(len), 2); }
  const mask = crypto.randomBytes(4);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, body]);
}

let pending = Buffer.alloc(0);
function parse(onFrame) {
  while (pending.length >= 2) {
    const opcode = pending[0] & 0x0f;
    let len = pending[1] & 0x7f;
    let at = 2;
    if (pending[1] & 0x80) fail('a server frame was masked');
    if (len === 126) { if (pending.length < 4) return; len = pending.readUInt16BE(2); at = 4; }
    else if (len === 127) { if (pending.length < 10) return; len = Number(pending.readBigUInt64BE(2)); at = 10; }
    if (pending.length < at + len) return;
    const payload = pending.subarray(at, at + len);
    pending = pending.subarray(at + len);
    onFrame(opcode, payload);
  }
}

const session = http2.connect(`http://127.0.0.1:${port}`);
session.on('error', fail);
session.on('remoteSettings', (settings) => {
  if (!settings.enableConnectProtocol) fail('the server did not enable extended CONNECT');
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': path,
    ':authority': 'node.test',
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'chat',
  });
  stream.on('error', fail);
  stream.on('response', (headers) => {
    out({ status: headers[':status'], protocol: headers['sec-websocket-protocol'] || null });
    if (headers[':status'] !== 200) return;
    const binary = Buffer.alloc(256 * 1024);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 7) & 0xff;
    stream.write(frame(0x1, Buffer.from('hello from node')));
    stream.write(frame(0x2, binary));
    stream.write(frame(0x9, Buffer.from('node ping')));
  });
  stream.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    parse((opcode, payload) => {
      if (opcode === 0x1) out({ text: payload.toString('utf8') });
      else if (opcode === 0x2) {
        let sum = 0;
        for (const b of payload) sum = (sum + b) % 65521;
        out({ binary: payload.length, sum });
      } else if (opcode === 0xa) {
        out({ pong: payload.toString('utf8') });
        const close = Buffer.alloc(2 + 3);
        close.writeUInt16BE(4005, 0);
        close.write('bye', 2);
        stream.write(frame(0x8, close));
      } else if (opcode === 0x8) {
        out({ close: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') });
        stream.end();
      }
    });
  });
  stream.on('end', () => out({ end: true }));
  stream.on('close', () => { session.close(); });
});
session.on('close', () => process.exit(0));
