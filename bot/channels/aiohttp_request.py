"""python-telegram-bot's transport over aiohttp, the HTTP stack the rest of the service uses.

PTB sends its requests through a `telegram.request.BaseRequest` (a documented seam); its
default is httpx. On the pipeline benchmark the httpx path (client, httpcore, anyio) was about
a third of the service's CPU time per update, sending replies and fetching updates; aiohttp
does the same work in a fraction of that, and the process keeps one HTTP stack instead of two.

Semantics follow PTB's `HTTPXRequest`, but for the body: parameters as JSON (`JSON_BODY`),
multipart when files are sent; the four timeouts (connect, read, write, pool; a write is
bounded by the whole request never taking longer than their sum); `TimedOut` for timeouts and
`NetworkError` for the rest. Error messages never carry the request's URL (it holds the bot
token).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

USER_AGENT = BaseRequest.USER_AGENT
JSON_BODY = {"Content-Type": "application/json"}
"""Parameters go as a JSON body, which the Bot API takes as well as a form: encoding it is
C code, while form-encoding Vietnamese text quotes it byte by byte in Python."""


def _given(value: Any, default: float | None) -> float | None:
    """A timeout passed for one call, or this transport's default when PTB left it unset."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class JsonData(RequestData):  # type: ignore[misc]  # final for users of PTB; read only by our do_request
    """Parameters that are JSON values already: the raw Bot API calls of
    `bot.channels.telegram` (updates, replies, callback answers). PTB's own path for them,
    `Bot.do_api_request`, turns each parameter into a `RequestParameter` and back, and warns
    on every call that a `Bot` method exists."""

    def __init__(self, parameters: dict[str, Any]) -> None:
        super().__init__()
        self._json = {name: value for name, value in parameters.items() if value is not None}

    @property
    def parameters(self) -> dict[str, Any]:
        return self._json


class AiohttpRequest(BaseRequest):
    """One connection pool of `connection_pool_size` keep-alive connections."""

    def __init__(
        self,
        connection_pool_size: int = 1,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self.pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.connect_timeout = connect_timeout
        self.pool_timeout = pool_timeout
        self.media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size),
                headers={"User-Agent": USER_AGENT},
                # Bot API replies are JSON; their cookies and proxies from the environment
                # are not ours to follow.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self.connect_timeout)
        pool = _given(pool_timeout, self.pool_timeout)
        write = _given(write_timeout, self.media_write_timeout if files else self.write_timeout)
        parts = (read, write, connect, pool)
        timeout = self._timeouts.get(parts)
        if timeout is None:
            timeout = self._timeouts[parts] = aiohttp.ClientTimeout(
                total=None if None in parts else sum(p for p in parts if p is not None),
                connect=None if connect is None or pool is None else connect + pool,
                sock_connect=connect,
                sock_read=read,
            )
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if files:
            data = aiohttp.FormData(request_data.json_parameters)  # type: ignore[union-attr]
            for name, (filename, content, mime_type) in files.items():
                data.add_field(name, content, filename=filename, content_type=mime_type)
        elif request_data is not None:
            data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            headers = JSON_BODY
        try:
            async with self._session.request(method, url, data=data, headers=headers,
                                             timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # asyncio's, and aiohttp's (a subclass)
            raise TimedOut from error
        except aiohttp.InvalidURL as error:  # its message is the URL, with the token
            raise NetworkError("aiohttp.InvalidURL") from error
        except (aiohttp.ClientError, OSError) as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
