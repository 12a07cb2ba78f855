"""Who may talk to the server: a Host allow-list for HTTP and WebSocket alike, and the
Origin of browser requests checked against it.

DNS rebinding points a foreign name (evil.example) at 127.0.0.1, so the browser sends that
name as Host: refusing unknown Host names stops it. A page on another origin that reaches the
server under an allowed name still sends its own Origin: a request whose Origin is neither the
server's own origin (scheme and the Host it was reached by) nor a configured one is refused.
Clients that send no Origin (scripts, the load bench) are not browsers and pass that check.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_name(host: str | None) -> str | None:
    """The name in a Host header ("localhost:8000" -> "localhost", "[::1]:80" -> "::1")."""
    if not host:
        return None
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return None
    return name.lower() if name else None


def origin_allowed(
    origin: str | None, host: str | None, allowed_origins: tuple[str, ...], scheme: str
) -> bool:
    if origin is None:
        return True
    if origin in allowed_origins:
        return True
    own_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return host is not None and origin.lower() == f"{own_scheme}://{host}".lower()


class HostGuard:
    """ASGI middleware: refuse requests for other host names, or from foreign origins."""

    def __init__(
        self, app: ASGIApp, allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...]
    ) -> None:
        self.app = app
        self.allowed_hosts = {h.lower().strip("[]") for h in allowed_hosts}
        self.allowed_origins = tuple(o.rstrip("/") for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        problem = None
        if host_name(host) not in self.allowed_hosts:
            problem = f"host {host!r} is not served here"
        elif not origin_allowed(
            headers.get("origin"), host, self.allowed_origins, scope.get("scheme", "http")
        ):
            problem = f"origin {headers.get('origin')!r} may not use this server"
        if problem is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
            return
        body = problem.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class ClientFaultFilter(logging.Filter):
    """The WebSocket layer logs a client's invalid UTF-8 as an ERROR with a traceback; it is
    the client's fault and the connection is closed (1007), so keep one line at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], UnicodeDecodeError):
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "closed a WebSocket that sent invalid UTF-8 (1007)"
            record.args = ()
        return True


def quiet_client_faults() -> None:
    """Install :class:`ClientFaultFilter` once on uvicorn's error logger."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientFaultFilter) for f in logger.filters):
        logger.addFilter(ClientFaultFilter())
