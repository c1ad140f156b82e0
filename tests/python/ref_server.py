"""A toxiccore reference server for the interop tests.

Usage: ref_server.py --token TOKEN [--tls CERT KEY]

Binds 127.0.0.1 on a free port, prints the port on stdout's first line, then
serves until killed. The protocol is a plain `BaseToxicProtocol` subclass, as
toxicbuild writes its servers: the request is authenticated by toxiccore
itself (bcrypt, here at cost 4 for speed) and `client_connected` answers with
`send_response`, closing the connection in `finally` as toxicbuild does.

Actions (the request's `body` is `self.data['body']`):

- echo: `{"code": 0, "body": {"echo": <body>}}`
- whoami: the request's extra top-level `user_id` field, as `{"whoami": ...}`
- error: body `{"code": N, "message": M}` -> `{"code": N, "body": {"error": M}}`
- bare-error: body `{"code": N, "message": M}` -> `{"code": N, "body": M}`
- string-code: body `{"code": N, "message": M}` -> `{"code": "N", "body": {"error": M}}`
- no-code: `{"body": {"no-code": "fine"}}` (no `code` key)
- no-key: `{"code": 0, "body": {"something-else": 1}}`
- build: body `{"steps": N}` -> N frames `{"code": 0, "body": {"step": i, ...}}`, then close
- build-null: like build, then `{"code": 0, "body": null}`, then keeps the
  connection open for 30 s (a client must stop at the null body)
- build-error: like build, then `{"code": 5, "body": {"error": "step failed"}}`, then close
- sleep: body `{"seconds": S}`: sleeps, then answers `{"sleep": "done"}`
- close: closes without answering
- anything else: `{"code": 1, "body": {"error": "Action X does not exist"}}`
"""

import argparse
import asyncio
import json
import sys
from collections import OrderedDict

import bcrypt

from toxiccore.protocol import BaseToxicProtocol
from toxiccore.server import ToxicServer
from toxiccore.socks import write_stream


def build_item(i):
    return {"step": i, "output": "passo {} \u2714 \u6784\u5efa \U0001F680".format(i)}


class RefProtocol(BaseToxicProtocol):
    encrypted_token = None  # set in main()

    async def client_connected(self):
        try:
            await self.dispatch(self.data.get("body"))
        finally:
            self.close_connection()

    async def dispatch(self, body):
        action = self.action
        if action == "echo":
            await self.send_response(code=0, body={"echo": body})
        elif action == "whoami":
            await self.send_response(code=0, body={"whoami": self.data.get("user_id")})
        elif action == "error":
            await self.send_response(code=body["code"], body={"error": body["message"]})
        elif action == "bare-error":
            await self.send_response(code=body["code"], body=body["message"])
        elif action == "string-code":
            await self.send_response(code=str(body["code"]), body={"error": body["message"]})
        elif action == "no-code":
            data = json.dumps(OrderedDict(body={"no-code": "fine"}))
            await write_stream(self._stream_writer, data)
        elif action == "no-key":
            await self.send_response(code=0, body={"something-else": 1})
        elif action in ("build", "build-null", "build-error"):
            for i in range(body["steps"]):
                await self.send_response(code=0, body=build_item(i))
            if action == "build-null":
                await self.send_response(code=0, body=None)
                await asyncio.sleep(30)
            elif action == "build-error":
                await self.send_response(code=5, body={"error": "step failed"})
        elif action == "sleep":
            await asyncio.sleep(body["seconds"])
            await self.send_response(code=0, body={"sleep": "done"})
        elif action == "close":
            pass
        else:
            msg = "Action {} does not exist".format(action)
            await self.send_response(code=1, body={"error": msg})


class RefServer(ToxicServer):
    PROTOCOL_CLS = RefProtocol


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()

    RefProtocol.encrypted_token = bcrypt.hashpw(
        args.token.encode(), bcrypt.gensalt(4)
    ).decode()

    # ToxicServer calls asyncio.get_event_loop() and run_until_complete():
    # give it a loop of its own (get_event_loop() without one is deprecated).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    kw = {}
    if args.tls:
        kw = {"use_ssl": True, "certfile": args.tls[0], "keyfile": args.tls[1]}
    server = RefServer("127.0.0.1", 0, loop=loop, **kw)
    port = server.server.sockets[0].getsockname()[1]
    sys.stdout.write("{}\n".format(port))
    sys.stdout.flush()
    loop.run_forever()


if __name__ == "__main__":
    main()
