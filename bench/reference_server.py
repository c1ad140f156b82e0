"""The Python reference (toxiccore) echo server the tpp bench drives.

Usage: reference_server.py HASH

HASH is the bcrypt hash of the token (cost 4 or 12, as deployments store
them). Binds 127.0.0.1 on a free port, prints the port on stdout's first line,
then serves until stdin closes (the bench exiting) or SIGTERM.

toxiccore authenticates each request itself (bcrypt, inline on its event
loop) before `client_connected` runs; the echo answers
{"code": 0, "body": {"echo": <body>}} and closes the connection in `finally`,
as toxicbuild's servers do.
"""

import asyncio
import os
import sys
import threading

from toxiccore.protocol import BaseToxicProtocol
from toxiccore.server import ToxicServer


class EchoProtocol(BaseToxicProtocol):
    encrypted_token = None  # set in main()

    async def client_connected(self):
        try:
            if self.action == "echo":
                await self.send_response(code=0, body={"echo": self.data.get("body")})
            else:
                msg = "Action {} does not exist".format(self.action)
                await self.send_response(code=1, body={"error": msg})
        finally:
            self.close_connection()


class EchoServer(ToxicServer):
    PROTOCOL_CLS = EchoProtocol


def exit_with_parent():
    sys.stdin.read()
    os._exit(0)


def main():
    EchoProtocol.encrypted_token = sys.argv[1]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = EchoServer("127.0.0.1", 0, loop=loop)
    port = server.server.sockets[0].getsockname()[1]
    sys.stdout.write("{}\n".format(port))
    sys.stdout.flush()
    threading.Thread(target=exit_with_parent, daemon=True).start()
    loop.run_forever()


if __name__ == "__main__":
    main()
