#!/usr/bin/env python3
"""A Python `websockets` client for tollgate's interop tests (transport-tokio/tests/ws_interop.rs).

Connects to URL, carrying TOKEN in the query (`?token=`), the Authorization header or the
subprotocol entry after `tollgate.bearer`, then (with --echo) sends text, binary,
fragmented and large messages and checks each echo, or (with --wait-close) waits for
the server to close. Prints one JSON object on stdout:

    {"status": 101, "protocol": ..., "echo": "ok" | "<what differed>",
     "close": {"code": ..., "reason": ...}}      # close: when the server closed
    {"status": 401, "www_authenticate": "..."}   # the upgrade was refused

Exit 0 when it could print that, 1 otherwise.
"""
import argparse
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

MARKER = "tollgate.bearer"

# (what to send, what must come back); a list is sent as fragments of one message.
EXCHANGES = [
    ("hello tollgate", "hello tollgate"),
    (bytes(range(256)), bytes(range(256))),
    (["frag", "mented ", "\u00fc\u20ac"], "fragmented \u00fc\u20ac"),
    ([b"\x00\x01", b"", b"\x02\xff"], b"\x00\x01\x02\xff"),
    ("\U0001f600" * 50_000, "\U0001f600" * 50_000),  # 200 KB: streamed in chunks
    (bytes(300_000), bytes(300_000)),
]


def describe(value):
    kind = "text" if isinstance(value, str) else "binary"
    return f"{kind} of {len(value)}"


async def run(args):
    url, headers, subprotocols = args.url, {}, None
    if args.via == "query":
        url += ("&" if "?" in url else "?") + "token=" + args.token
    elif args.via == "header":
        headers["Authorization"] = "Bearer " + args.token
    elif args.via == "subprotocol":
        subprotocols = [MARKER, args.token]
    result = {}
    try:
        ws = await connect(
            url,
            additional_headers=headers,
            subprotocols=subprotocols,
            origin=args.origin,
            max_size=None,
            open_timeout=10,
            close_timeout=5,
        )
    except InvalidStatus as e:
        return {
            "status": e.response.status_code,
            "www_authenticate": e.response.headers.get("WWW-Authenticate"),
        }
    result["status"] = 101
    result["protocol"] = ws.subprotocol
    try:
        if args.echo:
            result["echo"] = "ok"
            for sent, expected in EXCHANGES:
                await ws.send(sent)
                got = await ws.recv()
                if got != expected:
                    result["echo"] = f"sent {describe(expected)}, got {describe(got)}"
                    break
            await ws.close()
            result["close"] = {"code": ws.close_code, "reason": ws.close_reason}
        if args.wait_close:
            await ws.recv()
            result["error"] = "a message arrived instead of the close"
    except ConnectionClosed as e:
        if e.rcvd is not None:
            result["close"] = {"code": e.rcvd.code, "reason": e.rcvd.reason}
        else:
            result["close"] = None
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--token", default="")
    parser.add_argument("--via", choices=["query", "header", "subprotocol", "none"], default="query")
    parser.add_argument("--origin")
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--wait-close", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(asyncio.wait_for(run(args), timeout=20))
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
