"""Drives toxiccore's BaseToxicClient for the interop tests.

Reads one JSON object from stdin (or from argv[1] when given):

    {"host": "127.0.0.1", "port": 1234, "use_ssl": false,
     "validate_cert": false, "timeout": 15, "ops": [OP, ...]}

and prints one JSON array on stdout, one result per OP, in order. Each OP
runs on a new connection (`async with BaseToxicClient(...)`), as toxicbuild
does. OPs:

- {"op": "request2server", "action": A, "body": B, "token": T}
  -> {"ok": true, "result": <request2server's return value>}
- {"op": "exchange", "message": M}: writes M as is (so extra top-level
  fields can be sent), then runs toxicbuild's build loop:
  `while True: r = await client.get_response(); if not r or
  r.get('body') is None: break`
  -> {"ok": true, "responses": [r, ...], "last": <the response that ended the
  loop>}. With "count": N it stops after N responses instead ("last": null),
  for a unary action on a server that keeps the connection open. Every
  result of an exchange, failed or not, has "elapsed_ms": the time from the
  write to the end (a code > 0 ends it with ToxicClientException).
- {"op": "bcrypt", "token": T}: toxiccore.utils.bcrypt_string(T) (cost 12)
  -> {"ok": true, "result": "$2b$12$..."}
- {"op": "request2server_stream", "action": A, "body": B, "token": T}: an
  acknowledged stream, read as a client of the hole's `stream` action does:
  `ack = await client.request2server(A, B, T)` (which unwraps
  body[A]), then the build loop above on the same connection
  -> {"ok": true, "result": ack, "responses": [r, ...], "last": r}. "count"
  works as for exchange.

- {"op": "request2server_json", "action": A, "body_json": TEXT, "token": T}:
  request2server with the body `json.loads(TEXT)` (so NaN, Infinity and
  integers of any size reach the client as Python values)
  -> {"ok": true, "repr": repr(result), "types": <type names of result's
  values when it is a dict>}: printed as text, since the result itself may
  hold values that strict JSON cannot carry.

Any failure gives {"ok": false, "exc": <exception class name>,
"message": str(exception)} (plus "responses" for exchange, and "responses"
and "result" for request2server_stream). Every network
operation is bounded by "timeout" seconds (default 15).
"""

import asyncio
import json
import sys
import time

from toxiccore.client import BaseToxicClient
from toxiccore.utils import bcrypt_string


def fail(exc, **extra):
    out = {"ok": False, "exc": type(exc).__name__, "message": str(exc)}
    out.update(extra)
    return out


async def request2server(spec, op):
    client = BaseToxicClient(
        spec["host"], spec["port"], spec.get("use_ssl", False), spec.get("validate_cert", True)
    )
    async with client:
        result = await client.request2server(op["action"], op.get("body"), op.get("token"))
    return {"ok": True, "result": result}


async def exchange(spec, op, responses, clock):
    client = BaseToxicClient(
        spec["host"], spec["port"], spec.get("use_ssl", False), spec.get("validate_cert", True)
    )
    async with client:
        clock["started"] = time.monotonic()
        await client.write(op["message"])
        count = op.get("count")
        while count is None or len(responses) < count:
            r = await client.get_response()
            if not r or r.get("body") is None:
                return {"ok": True, "responses": responses, "last": r}
            responses.append(r)
        return {"ok": True, "responses": responses, "last": None}


async def request2server_stream(spec, op, responses, out):
    client = BaseToxicClient(
        spec["host"], spec["port"], spec.get("use_ssl", False), spec.get("validate_cert", True)
    )
    async with client:
        out["result"] = await client.request2server(op["action"], op.get("body"), op.get("token"))
        count = op.get("count")
        while count is None or len(responses) < count:
            r = await client.get_response()
            if not r or r.get("body") is None:
                out["last"] = r
                return out
            responses.append(r)
        out["last"] = None
        return out


async def request2server_json(spec, op):
    client = BaseToxicClient(
        spec["host"], spec["port"], spec.get("use_ssl", False), spec.get("validate_cert", True)
    )
    async with client:
        result = await client.request2server(
            op["action"], json.loads(op["body_json"]), op.get("token")
        )
    result = plain(result)
    types = {k: type(v).__name__ for k, v in result.items()} if isinstance(result, dict) else {}
    return {"ok": True, "repr": repr(result), "types": types}


def plain(value):
    """The value with toxiccore's OrderedDicts as dicts (a shorter repr)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


async def run_op(spec, op):
    kind = op["op"]
    timeout = spec.get("timeout", 15)
    if kind == "bcrypt":
        return {"ok": True, "result": bcrypt_string(op["token"])}
    if kind == "request2server":
        try:
            return await asyncio.wait_for(request2server(spec, op), timeout)
        except Exception as e:  # reported to the Rust test
            return fail(e)
    if kind == "request2server_json":
        try:
            return await asyncio.wait_for(request2server_json(spec, op), timeout)
        except Exception as e:  # reported to the Rust test
            return fail(e)
    if kind == "exchange":
        responses = []
        clock = {}

        def elapsed_ms():
            return (time.monotonic() - clock.get("started", time.monotonic())) * 1000

        try:
            out = await asyncio.wait_for(exchange(spec, op, responses, clock), timeout)
            out["elapsed_ms"] = elapsed_ms()
            return out
        except Exception as e:  # reported to the Rust test
            return fail(e, responses=responses, elapsed_ms=elapsed_ms())
    if kind == "request2server_stream":
        responses = []
        out = {"ok": True, "responses": responses}
        try:
            return await asyncio.wait_for(request2server_stream(spec, op, responses, out), timeout)
        except Exception as e:  # reported to the Rust test
            return fail(e, responses=responses, result=out.get("result"))
    raise ValueError("unknown op {!r}".format(kind))


async def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    spec = json.loads(raw)
    results = []
    for op in spec.get("ops", []):
        results.append(await run_op(spec, op))
    sys.stdout.write(json.dumps(results))
    sys.stdout.write("\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
