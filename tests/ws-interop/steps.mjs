// A scripted Node `ws` client for tollgate's real-client tests (tests/tests/*.rs).
//
//   node steps.mjs '<JSON spec>'
//
// The spec and the printed result are those of steps.py (see its docstring): connect to
// spec.url with the token in the query, Authorization header, subprotocol or a cookie, run
// the steps (send, send_size, auth, recv, sleep, close), optionally wait for the server to
// close (until_close), and print one JSON object. `ws` is loaded from tests/js/node_modules
// (scripts/install-test-deps.sh).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../js/package.json", import.meta.url));
const WebSocket = require("ws");

const MARKER = "tollgate.bearer";
const spec = JSON.parse(process.argv[2]);

function print(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

let url = spec.url;
const token = spec.token ?? "";
const headers = {};
let protocols = [];
switch (spec.via ?? "none") {
  case "query":
    url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
    break;
  case "header":
    headers.Authorization = "Bearer " + token;
    break;
  case "subprotocol":
    protocols = [MARKER, token];
    break;
  case "cookie":
    headers.Cookie = `${spec.cookie ?? "token"}=${token}`;
    break;
}

const result = { status: undefined, protocol: null, received: [], close: null };
const timer = setTimeout(() => {
  print({ error: "timed out", ...result });
  process.exit(1);
}, (spec.timeout ?? 20) * 1000);

const ws = new WebSocket(url, protocols, {
  headers,
  maxPayload: 0,
  handshakeTimeout: 10000,
  ca: spec.ca ? readFileSync(spec.ca) : undefined,
});

let refused = false;
ws.on("unexpected-response", (_req, res) => {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk) => (body += chunk));
  res.on("end", () => {
    refused = true;
    print({ status: res.statusCode, www_authenticate: res.headers["www-authenticate"] ?? null, body });
    clearTimeout(timer);
    ws.terminate();
  });
});

ws.on("error", (err) => {
  result.error = String(err);
});

// Messages not yet taken by a `recv` step; `closed` once the server's close arrived.
const inbox = [];
let wake = null;
let closed = false;
const asText = (data, isBinary) => (isBinary ? `<binary ${data.length}>` : data.toString("utf8"));
ws.on("message", (data, isBinary) => {
  inbox.push(asText(data, isBinary));
  if (wake) wake();
});
const next = () =>
  new Promise((resolve) => {
    if (inbox.length > 0 || closed) return resolve(inbox.shift());
    wake = () => {
      wake = null;
      resolve(inbox.shift());
    };
  });
const sleep = (secs) => new Promise((resolve) => setTimeout(resolve, secs * 1000));

ws.on("open", async () => {
  result.status = 101;
  result.protocol = ws.protocol || null;
  for (const step of spec.steps ?? []) {
    if (closed) break;
    if ("send" in step) ws.send(step.send);
    else if ("send_size" in step) ws.send("x".repeat(step.send_size));
    else if ("auth" in step) ws.send(JSON.stringify({ type: "authenticate", token: step.auth }));
    else if ("recv" in step) {
      for (let i = 0; i < step.recv; i++) {
        const message = await next();
        if (message === undefined) break;
        result.received.push(message);
      }
    } else if ("sleep" in step) await sleep(step.sleep);
    else if ("close" in step) ws.close(step.close);
  }
  if (!spec.until_close && !closed) ws.close(1000);
});

ws.on("close", (code, reason) => {
  closed = true;
  if (refused) return; // printed by unexpected-response
  if (result.status === undefined) {
    // The connection or TLS failed before any HTTP answer.
    clearTimeout(timer);
    print({ error: result.error ?? "closed before the upgrade" });
    return;
  }
  result.received.push(...inbox.splice(0));
  result.close = { code, reason: reason.toString("utf8") };
  if (wake) wake();
  clearTimeout(timer);
  print(result);
});
