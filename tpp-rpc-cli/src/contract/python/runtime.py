class TransportError(Exception):
    """The server could not be reached, closed the connection, or answered something
    that is not a TPP response of the expected shape."""


class _Closed(TransportError):
    """The server closed the connection before sending an answer."""


T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)
C = TypeVar("C", bound="_Client")


def _bad(what: str, value: Any) -> TransportError:
    return TransportError(f"the server answered {value!r} where {what} was expected")


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _bad("a string", value)
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("an integer", value)
    return value


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad("a number", value)
    return float(value)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad("a boolean", value)
    return value


def _as_none(value: Any) -> None:
    if value is not None:
        raise _bad("null", value)


def _as_any(value: Any) -> Any:
    return value


def _as_list(value: Any, item: Callable[[Any], T]) -> List[T]:
    if not isinstance(value, list):
        raise _bad("a list", value)
    return [item(v) for v in value]


def _as_dict(value: Any, item: Callable[[Any], T]) -> Dict[str, T]:
    if not isinstance(value, dict):
        raise _bad("an object", value)
    return {str(k): item(v) for k, v in value.items()}


def _as_obj(value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad("an object", value)
    return value


def _opt(value: Any, item: Callable[[Any], T]) -> Optional[T]:
    return None if value is None else item(value)


def _as_enum(cls: Type[E], value: Any) -> E:
    try:
        return cls(value)
    except ValueError:
        raise _bad(f"a {cls.__name__}", value) from None


def _field(obj: Dict[str, Any], name: str) -> Any:
    if name not in obj:
        raise TransportError(f"the server's answer lacks the field {name!r}: {obj!r}")
    return obj[name]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, frame: bytes) -> None:
        self.writer.write(frame)
        await self.writer.drain()

    async def receive(self) -> Optional[Dict[str, Any]]:
        """The next response, or None when the server closed the connection first."""
        try:
            header = await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            if not e.partial:
                return None
            raise TransportError("the connection closed inside a response") from None
        except asyncio.LimitOverrunError:
            raise TransportError("the server sent a response without a length") from None
        try:
            length = int(header[:-1].decode("ascii"))
        except ValueError:
            raise TransportError(f"the server sent a bad length: {header[:40]!r}") from None
        try:
            payload = await self.reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise TransportError("the connection closed inside a response") from None
        try:
            response = json.loads(payload.decode("utf-8"))
        except ValueError as e:
            raise TransportError(f"the server sent invalid JSON: {e}") from None
        if not isinstance(response, dict) or not isinstance(response.get("code"), int):
            raise TransportError(f"the server sent no response code: {response!r}")
        return response

    def close(self) -> None:
        self.writer.close()


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return body if isinstance(body, str) else json.dumps(body)


class _ServiceError(Exception):
    """An error answer: `code` (> 0), `message`, and `body`, the whole answer's body."""

    # The variant a subclass stands for (code and name on the wire), and how an answer
    # without fields (from an older server) builds it: "" cannot, "unit", "tuple" (its one
    # string field), "field:NAME" (its one string field, or the one named `message`).
    _code = 0
    _variant = ""
    _from_message = ""

    def __init__(self, code: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.body = body

    def _take(self, fields: Any) -> None:
        """Sets the variant's fields from the answer's `tpp_error.fields`."""


def _from_message(how: str, message: str) -> Any:
    if how == "tuple":
        return [message]
    if how.startswith("field:"):
        return {how[len("field:"):]: message}
    return None


def _item(items: Any, index: int) -> Any:
    if not isinstance(items, list) or index >= len(items):
        raise _bad(f"a list of at least {index + 1} fields", items)
    return items[index]


def _service_error(
    base: Type[_ServiceError], errors: List[Type[_ServiceError]], code: int, body: Any
) -> _ServiceError:
    """The exception for an error answer: the variant named by `tpp_error` with its fields;
    without them, the first variant of that code that the message alone builds; else `base`."""
    message = _message(body)
    data = body.get("tpp_error") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("variant"), str):
        for cls in errors:
            if cls._code == code and cls._variant == data["variant"]:
                error = cls(code, message, body)
                try:
                    error._take(data.get("fields"))
                    return error
                except TransportError:
                    break  # fields this module cannot read: as if there were none
    for cls in errors:
        if cls._code == code and cls._from_message:
            error = cls(code, message, body)
            error._take(_from_message(cls._from_message, message))
            return error
    return base(code, message, body)


class _Client:
    """Connects, frames requests, keeps the connection when the server promises to."""

    _base_error: Type[_ServiceError] = _ServiceError

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        *,
        use_ssl: bool = False,
        validate_cert: bool = True,
        timeout: Optional[float] = 30.0,
        ssl_context: Optional[ssl.SSLContext] = None,
        fields: Optional[Dict[str, Any]] = None,
    ) -> None:
        """`ssl_context` replaces the default TLS context (to trust a private CA, for one);
        `fields` are added to every request beside the token (toxicbuild's `user_id`)."""
        self.host = host
        self.fields: Dict[str, Any] = dict(fields or {})
        self.port = port
        self.token = token
        self.timeout = timeout
        self._ssl: Optional[ssl.SSLContext] = None
        if use_ssl or ssl_context is not None:
            context = ssl_context or ssl.create_default_context()
            if not validate_cert:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl = context
        self._idle: Optional[_Connection] = None

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the kept connection, if any."""
        idle, self._idle = self._idle, None
        if idle is not None:
            idle.close()

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self._ssl), self.timeout
            )
        except (OSError, asyncio.TimeoutError) as e:
            raise TransportError(f"cannot connect to {self.host}:{self.port}: {e!r}") from None
        return _Connection(reader, writer)

    def _frame(self, action: str, body: Dict[str, Any], keep: bool) -> bytes:
        request: Dict[str, Any] = dict(self.fields)
        request.update(token=self.token, action=action, body=body)
        if keep:
            request["tpp_keep_alive"] = True
        payload = json.dumps(request).encode("utf-8")
        return str(len(payload)).encode("ascii") + b"\n" + payload

    async def _answer(self, conn: _Connection, frame: bytes) -> Dict[str, Any]:
        try:
            await asyncio.wait_for(conn.send(frame), self.timeout)
            response = await asyncio.wait_for(conn.receive(), self.timeout)
        except (OSError, asyncio.IncompleteReadError):
            raise _Closed("the connection closed before the answer") from None
        except asyncio.TimeoutError:
            raise TransportError(f"no answer within {self.timeout} s") from None
        if response is None:
            raise _Closed("the connection closed before the answer")
        return response

    def _raise(self, response: Dict[str, Any], errors: List[Type[_ServiceError]]) -> None:
        code = response["code"]
        if code != 0:
            raise _service_error(self._base_error, errors, code, response.get("body"))

    async def _call(self, action: str, body: Dict[str, Any], errors: List[Type[_ServiceError]]) -> Any:
        frame = self._frame(action, body, keep=True)
        conn, self._idle = self._idle, None
        reused = conn is not None
        if conn is None:
            conn = await self._connect()
        try:
            try:
                response = await self._answer(conn, frame)
            except _Closed:
                conn.close()
                if not reused:
                    raise
                # A kept connection the server has since closed (or a toxiccore server,
                # which answers once per connection): the request was not read, send it anew.
                conn = await self._connect()
                response = await self._answer(conn, frame)
        except BaseException:
            conn.close()
            raise
        if response.get("tpp_keep_alive") is True and self._idle is None:
            self._idle = conn
        else:
            conn.close()
        self._raise(response, errors)
        return response.get("body")

    async def _stream(
        self, action: str, body: Dict[str, Any], errors: List[Type[_ServiceError]], ack: bool
    ) -> AsyncIterator[Any]:
        # A stream ends when the server closes the connection: it gets one of its own.
        conn = await self._connect()
        try:
            try:
                response: Optional[Dict[str, Any]] = await self._answer(
                    conn, self._frame(action, body, keep=False)
                )
            except _Closed:
                return  # closed before any item: an empty stream
            first = True
            while response is not None:
                self._raise(response, errors)
                item = response.get("body")
                if item is None:
                    return
                if not (first and ack):
                    yield item
                first = False
                try:
                    response = await asyncio.wait_for(conn.receive(), self.timeout)
                except asyncio.TimeoutError:
                    raise TransportError(f"no stream item within {self.timeout} s") from None
                except OSError as e:
                    raise TransportError(f"the stream broke: {e!r}") from None
        finally:
            conn.close()

