"""Drives the generated catalog client (`catalog_client.py`, made by `tpp gen python`)
against real servers. Arguments: MODULE_DIR TCP_PORT TLS_PORT CA_FILE TOKEN REF_PORT REF_TOKEN
IDLE_PORT
(REF_PORT 0: no toxiccore server; IDLE_PORT: a catalog that closes idle connections). Prints "ok" and exits 0 when every check passes."""

import asyncio
import json
import ssl
import sys

sys.path.insert(0, sys.argv[1])

import catalog_client as cc  # noqa: E402

TCP, TLS, CA, TOKEN = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
REF_PORT, REF_TOKEN = int(sys.argv[6]), sys.argv[7]
IDLE_PORT = int(sys.argv[8])


def check(cond, what):
    if not cond:
        raise AssertionError(what)


async def raises(cls, coro, what):
    try:
        await coro
    except cls as e:
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{what}: raised {type(e).__name__}: {e}, not {cls.__name__}")
    raise AssertionError(f"{what}: nothing raised, expected {cls.__name__}")


def connections(client):
    return client._idle


async def every_type(client):
    repo = await client.repo_add(
        name="tpp", url="https://x/tpp", branches=["main", "dev"], labels={"lang": "rust", "é": "中"}
    )
    check(isinstance(repo, cc.Repo), "a Repo dataclass")
    check(repo.name == "tpp" and repo.url == "https://x/tpp", f"fields: {repo}")
    check(repo.parallel == 1, "the default parallel (1) was sent")
    check(repo.branches == ["main", "dev"], "a list of strings")
    check(repo.labels == {"lang": "rust", "é": "中"}, "a map of strings")
    check(repo.id == 1 and isinstance(repo.id, int), "an optional integer, present")
    check(repo.state is cc.State.IDLE and isinstance(repo.state, str), "a str enum")
    kept = connections(client)
    check(kept is not None, "keep-alive: the connection is kept after an answer")
    other = await client.repo_add(name="b", url="u", parallel=3)
    check(other.parallel == 3 and other.branches == [] and other.labels == {}, f"{other}")
    check(connections(client) is kept, "keep-alive: the second call reused the connection")
    got = await client.repo_get(name="tpp")
    check(got == repo, "repo_get decodes the same dataclass")
    listed = await client.repo_list()
    check([r.name for r in listed] == ["b", "tpp"], f"List[Repo]: {listed}")
    idle = await client.repo_list(state=cc.State.IDLE)
    check(len(idle) == 2, "an enum parameter")
    running = await client.repo_list(state=cc.State.RUNNING)
    check(running == [], "an enum parameter filters")
    check(await client.repo_lock(id=5, by="me") is True, "a bool answer")
    check(repo.to_json()["state"] == "idle", "to_json writes the enum's wire value")
    check(cc.Repo.from_json(repo.to_json()) == repo, "to_json/from_json round-trip")


async def errors(client):
    e = await raises(cc.NotFound, client.repo_get(name="nope"), "a newtype variant")
    check(e.code == 4 and e.message == "repository nope not found", f"{e.code} {e.message}")
    check(e.field0 == "nope", f"the newtype variant's field, not the message: {e.field0!r}")
    check(isinstance(e, cc.CatalogError), "variants derive from the service's base class")
    e = await raises(cc.Locked, client.repo_lock(id=9, by="ana"), "a struct variant")
    check(e.code == 7 and e.message == "repository 9 is locked by ana", e.message)
    check(e.id == 9 and isinstance(e.id, int) and e.by == "ana", f"struct fields: {e.id!r} {e.by!r}")
    e = await raises(cc.Moved, client.repo_get(name="moved"), "a tuple variant")
    check(e.code == 9 and e.message == "repository moved to tpp on shard 2", e.message)
    check((e.field0, e.field1) == ("tpp", 2), f"tuple fields: {e.field0!r} {e.field1!r}")
    e = await raises(cc.ReadOnly, client.repo_remove(name="x"), "a unit variant")
    check(e.code == 8 and e.message == "the catalog is read-only", e.message)
    # An unknown code (1: a wrong argument) raises the base class itself.
    e = await raises(cc.CatalogError, client.repo_add(name="x", url="u", parallel=-1), "code 1")
    check(type(e) is cc.CatalogError and e.code == 1, f"base class for code {e.code}")
    bad = await raises(cc.TransportError, cc.CatalogClient("127.0.0.1", 1, TOKEN).repo_list(), "no server")
    check(not isinstance(bad, cc.CatalogError), "transport failures are not service errors")


async def message_only_answers():
    # A server that sends only the message (older, or hand-written): variants the message
    # builds (unit, one string) are raised as before; others raise the base class.
    answers = [
        {"code": 8, "body": {"error": "the catalog is read-only"}},
        {"code": 4, "body": {"error": "no such repository"}},
        {"code": 7, "body": {"error": "locked"}},
        {"code": 7, "body": {"error": "locked", "tpp_error": {"variant": "Locked", "fields": {"id": "x"}}}},
        {"code": 8, "body": "read-only"},
    ]

    async def answer(reader, writer):
        header = await reader.readuntil(b"\n")
        await reader.readexactly(int(header))
        payload = json.dumps(answers.pop(0)).encode()
        writer.write(str(len(payload)).encode() + b"\n" + payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        client = cc.CatalogClient("127.0.0.1", port, TOKEN, timeout=10)
        e = await raises(cc.ReadOnly, client.repo_remove(name="x"), "a message-only unit variant")
        check(e.message == "the catalog is read-only", e.message)
        e = await raises(cc.NotFound, client.repo_get(name="x"), "a message-only newtype variant")
        check(e.field0 == "no such repository", f"the message as the field: {e.field0!r}")
        e = await raises(cc.CatalogError, client.repo_lock(id=1, by="b"), "a message-only struct variant")
        check(type(e) is cc.CatalogError and e.code == 7, f"the base class: {type(e).__name__}")
        e = await raises(cc.CatalogError, client.repo_lock(id=1, by="b"), "fields of the wrong type")
        check(type(e) is cc.CatalogError and e.code == 7, f"the base class: {type(e).__name__}")
        e = await raises(cc.ReadOnly, client.repo_remove(name="x"), "a bare string body")
        check(e.message == "read-only", e.message)
        await client.close()


async def stream(client):
    items = [i async for i in client.count(n=5)]
    check(items == [1, 2, 3, 4, 5], f"stream items: {items}")
    check([i async for i in client.count(n=0)] == [], "an empty stream")
    check(await client.repo_lock(id=1, by="me"), "a call after a stream")


async def wrong_token():
    async with cc.CatalogClient("127.0.0.1", TCP, "wrong", timeout=10) as client:
        e = await raises(cc.CatalogError, client.repo_list(), "a wrong token")
        check(type(e) is cc.CatalogError and e.code == 3, f"bad token: {e.code} {e.message}")


async def tls():
    context = ssl.create_default_context(cafile=CA)
    async with cc.CatalogClient("127.0.0.1", TLS, TOKEN, use_ssl=True, ssl_context=context) as client:
        repo = await client.repo_add(name="secure", url="u")
        check(repo.name == "secure", "a call over TLS")
        check((await client.repo_get(name="secure")) == repo, "a second call over TLS")
        check([i async for i in client.count(n=3)] == [1, 2, 3], "a stream over TLS")
        await raises(cc.NotFound, client.repo_get(name="nope"), "an error over TLS")
    async with cc.CatalogClient("127.0.0.1", TLS, TOKEN, use_ssl=True, validate_cert=False) as client:
        check((await client.repo_list()) != [], "TLS without validating the certificate")
    unknown = cc.CatalogClient("127.0.0.1", TLS, TOKEN, use_ssl=True)
    await raises(cc.TransportError, unknown.repo_list(), "an untrusted certificate")


async def toxiccore_server():
    # A toxiccore server answers once per connection, without keep-alive: every call
    # reconnects. Its `echo` action answers {"echo": body}.
    client = cc.CatalogClient("127.0.0.1", REF_PORT, REF_TOKEN)
    for i in range(3):
        body = await client._call("echo", {"i": i}, [])
        check(body == {"echo": {"i": i}}, f"echo from toxiccore: {body}")
        check(client._idle is None, "no connection kept by a toxiccore server")
    await client.close()
    async with cc.CatalogClient("127.0.0.1", REF_PORT, REF_TOKEN, fields={"user_id": "ana"}) as client:
        body = await client._call("whoami", {}, [])
        check(body == {"whoami": "ana"}, f"extra request fields reach the server: {body}")


async def closed_while_idle():
    # The server closes the kept connection after 300 ms idle: the next call notices the
    # close before any answer and sends the request again on a new connection.
    async with cc.CatalogClient("127.0.0.1", IDLE_PORT, TOKEN, timeout=10) as client:
        check((await client.repo_list()) == [], "a first call")
        kept = connections(client)
        check(kept is not None, "the connection is kept")
        await asyncio.sleep(1.0)
        check((await client.repo_list()) == [], "a call after the server closed the connection")
        check(connections(client) is not kept, "a new connection replaced the closed one")


async def main():
    client = cc.CatalogClient("127.0.0.1", TCP, TOKEN, timeout=10)
    await every_type(client)
    await errors(client)
    await message_only_answers()
    await stream(client)
    await client.close()
    await wrong_token()
    await tls()
    await closed_while_idle()
    if REF_PORT:
        await toxiccore_server()
    print("ok")


asyncio.run(asyncio.wait_for(main(), 60))
