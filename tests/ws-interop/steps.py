#!/usr/bin/env python3
"""A scripted Python `websockets` client for tollgate's real-client tests (tests/tests/*.rs).

    python steps.py '<JSON spec>'

The spec: {"url": "ws://…", "token": "…", "via": "query|header|subprotocol|cookie|none",
"cookie": "<cookie name>", "ca": "<PEM file to trust for wss://>", "steps": [...],
"until_close": bool}. Steps run in order:

    {"send": "text"}          send a text message
    {"send_size": N}          send a text message of N bytes ("x" * N)
    {"auth": "token"}         send {"type":"authenticate","token":…}
    {"recv": N}               receive N messages (text, or "<binary N>")
    {"sleep": secs}           wait
    {"close": code}           close the connection with code

With "until_close" the client then keeps receiving until the server closes; otherwise it
closes with 1000. Prints one JSON object:

    {"status": 101, "protocol": …, "received": [...], "close": {"code", "reason"} | null}
    {"status": 401, "www_authenticate": "…", "body": "…"}     # the upgrade was refused
"""
import asyncio
import json
import ssl
import sys
import urllib.parse

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

MARKER = "tollgate.bearer"


def as_text(message):
    return message if isinstance(message, str) else f"<binary {len(message)}>"


async def run(spec):
    url, headers, subprotocols = spec["url"], {}, None
    token, via = spec.get("token", ""), spec.get("via", "none")
    if via == "query":
        url += ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(token, safe="")
    elif via == "header":
        headers["Authorization"] = "Bearer " + token
    elif via == "subprotocol":
        subprotocols = [MARKER, token]
    elif via == "cookie":
        headers["Cookie"] = f"{spec.get('cookie', 'token')}={token}"
    options = {}
    if spec.get("ca"):
        options["ssl"] = ssl.create_default_context(cafile=spec["ca"])
    try:
        ws = await connect(
            url,
            additional_headers=headers,
            subprotocols=subprotocols,
            **options,
            max_size=None,
            open_timeout=10,
            close_timeout=5,
            ping_interval=None,
        )
    except InvalidStatus as e:
        return {
            "status": e.response.status_code,
            "www_authenticate": e.response.headers.get("WWW-Authenticate"),
            "body": e.response.body.decode("utf-8", "replace") if e.response.body else "",
        }
    result = {"status": 101, "protocol": ws.subprotocol, "received": [], "close": None}
    try:
        for step in spec.get("steps", []):
            if "send" in step:
                await ws.send(step["send"])
            elif "send_size" in step:
                await ws.send("x" * step["send_size"])
            elif "auth" in step:
                await ws.send(json.dumps({"type": "authenticate", "token": step["auth"]}))
            elif "recv" in step:
                for _ in range(step["recv"]):
                    result["received"].append(as_text(await ws.recv()))
            elif "sleep" in step:
                await asyncio.sleep(step["sleep"])
            elif "close" in step:
                await ws.close(step["close"])
        if spec.get("until_close"):
            while True:
                result["received"].append(as_text(await ws.recv()))
        await ws.close()
    except ConnectionClosed:
        # Messages that arrived before the close are still queued: keep them.
        if spec.get("until_close"):
            try:
                while True:
                    result["received"].append(as_text(await ws.recv()))
            except ConnectionClosed:
                pass
    if ws.close_code is not None:
        result["close"] = {"code": ws.close_code, "reason": ws.close_reason}
    return result


def main():
    spec = json.loads(sys.argv[1])
    try:
        result = asyncio.run(asyncio.wait_for(run(spec), timeout=spec.get("timeout", 20)))
    except Exception as e:  # the connection or TLS failed: say how, as JSON
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
