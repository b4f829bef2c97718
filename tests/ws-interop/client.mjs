// A Node `ws` client for tollgate's interop tests (transport-tokio/tests/ws_interop.rs).
//
// node client.mjs URL [--token T] [--via query|header|subprotocol|none] [--origin O]
//                     [--protocol-version 13|8] [--echo] [--wait-close]
//
// Connects to URL carrying the token in the query (`?token=`), the Authorization header
// or the subprotocol entry after `tollgate.bearer`; then (--echo) sends text, binary,
// fragmented (`fin: false`) and large messages and checks each echo, or (--wait-close)
// waits for the server to close. Prints one JSON object on stdout, as client.py does:
//   {"status": 101, "protocol": ..., "echo": "ok" | "<what differed>", "close": {code, reason}}
//   {"status": 401, "www_authenticate": "..."}
// `ws` is loaded from tests/js/node_modules (scripts/install-test-deps.sh).
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const require = createRequire(new URL("../js/package.json", import.meta.url));
const WebSocket = require("ws");

const MARKER = "tollgate.bearer";

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    token: { type: "string", default: "" },
    via: { type: "string", default: "query" },
    origin: { type: "string" },
    "protocol-version": { type: "string", default: "13" },
    echo: { type: "boolean", default: false },
    "wait-close": { type: "boolean", default: false },
  },
});

// Each exchange: the frames to send ([data, fin] pairs) and the message that must come back.
const text = (s) => ({ binary: false, data: s });
const bin = (b) => ({ binary: true, data: Buffer.from(b) });
const EXCHANGES = [
  { frames: [[text("hello tollgate"), true]], expect: text("hello tollgate") },
  { frames: [[bin([...Array(256).keys()]), true]], expect: bin([...Array(256).keys()]) },
  {
    frames: [[text("frag"), false], [text("mented "), false], [text("\u00fc\u20ac"), true]],
    expect: text("fragmented \u00fc\u20ac"),
  },
  {
    frames: [[bin([0, 1]), false], [bin([]), false], [bin([2, 255]), true]],
    expect: bin([0, 1, 2, 255]),
  },
  // Larger than the server's 64 KiB read buffer: streamed in chunks there.
  { frames: [[text("\u{1f600}".repeat(50000)), true]], expect: text("\u{1f600}".repeat(50000)) },
  { frames: [[bin(new Uint8Array(300000)), true]], expect: bin(new Uint8Array(300000)) },
];

function print(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

let url = positionals[0];
const headers = {};
let protocols = [];
if (opts.via === "query") {
  url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(opts.token);
} else if (opts.via === "header") {
  headers.Authorization = "Bearer " + opts.token;
} else if (opts.via === "subprotocol") {
  protocols = [MARKER, opts.token];
}

const result = {};
const timer = setTimeout(() => {
  result.error = "timed out";
  print(result);
  process.exit(1);
}, 20000);

const ws = new WebSocket(url, protocols, {
  headers,
  origin: opts.origin,
  protocolVersion: Number(opts["protocol-version"]),
  maxPayload: 0,
  handshakeTimeout: 10000,
});

ws.on("unexpected-response", (_req, res) => {
  print({ status: res.statusCode, www_authenticate: res.headers["www-authenticate"] ?? null });
  clearTimeout(timer);
  res.resume();
  ws.terminate();
});

ws.on("error", (err) => {
  result.error = String(err);
});

const received = [];
let wake = null;
ws.on("message", (data, isBinary) => {
  received.push({ binary: isBinary, data: isBinary ? Buffer.from(data) : data.toString("utf8") });
  if (wake) wake();
});
const next = () =>
  new Promise((resolve) => {
    if (received.length > 0) return resolve(received.shift());
    wake = () => {
      wake = null;
      resolve(received.shift());
    };
  });

function same(a, b) {
  if (a.binary !== b.binary) return false;
  return a.binary ? Buffer.compare(a.data, b.data) === 0 : a.data === b.data;
}

let echoDone = false;
const describe = (m) => `${m.binary ? "binary" : "text"} of ${m.data.length}`;

ws.on("open", async () => {
  result.status = 101;
  result.protocol = ws.protocol || null;
  if (opts.echo) {
    result.echo = "ok";
    for (const { frames, expect } of EXCHANGES) {
      for (const [frame, fin] of frames) {
        ws.send(frame.data, { binary: frame.binary, fin });
      }
      const got = await next();
      if (got === undefined) return;
      if (!same(got, expect)) {
        result.echo = `sent ${describe(expect)}, got ${describe(got)}`;
        ws.close(1000);
        return;
      }
    }
    echoDone = true;
    ws.close(1000);
  }
});

ws.on("close", (code, reason) => {
  if (result.status === undefined) return; // refused: printed by unexpected-response
  if (received.length > 0 && opts["wait-close"]) {
    result.error = "a message arrived instead of the close";
  }
  if (opts.echo && !echoDone && result.echo === "ok") {
    result.echo = "connection closed before the echo finished";
  }
  result.close = { code, reason: reason.toString("utf8") };
  if (wake) wake();
  clearTimeout(timer);
  print(result);
});
