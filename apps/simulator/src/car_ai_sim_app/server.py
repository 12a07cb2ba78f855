"""The FastAPI application: the page, the models, the API and the session WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from car_ai_sim_app import protocol
from car_ai_sim_app.config import AppConfig
from car_ai_sim_app.hub import CLOSE_FULL, Hub, ServerFull
from car_ai_sim_app.model_store import RegistryStore
from car_ai_sim_app.records import MissionRecorder
from car_ai_sim_app.registry import MODEL_NAME, RegistryError
from car_ai_sim_app.security import HostGuard, quiet_client_faults
from car_ai_sim_app.session import Session

log = logging.getLogger("car_ai_sim_app.server")

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; "
    "img-src 'self' data:; style-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class App:
    """The pieces one server process holds, built by :func:`create_app`."""

    def __init__(self, config: AppConfig, store: RegistryStore | None = None) -> None:
        self.config = config
        self.store = store or RegistryStore(config)
        self.recorder = MissionRecorder(config.mission_log)
        self.hub = Hub(config, self.store, self.recorder)
        self.reload_lock = asyncio.Lock()

    async def reload_registry(self) -> bool:
        async with self.reload_lock:
            changed = await asyncio.to_thread(self.store.reload)
        if changed:
            self.hub.notify_registry()
        return changed

    async def watch_registry(self) -> None:
        while True:
            await asyncio.sleep(self.config.watch_interval_s)
            if self.store.changed_on_disk():
                with contextlib.suppress(RegistryError):
                    await self.reload_registry()

    async def serve_session(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            session = self.hub.open_session()
        except ServerFull as exc:
            await ws.send_text(protocol.error("server_full", str(exc)))
            await ws.close(code=CLOSE_FULL, reason="server full")
            return
        writer = asyncio.create_task(self._write(ws, session))
        try:
            while not session.outbox.closed:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self.hub.on_message(session, message.get("text"), message.get("bytes"))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.hub.close_session(session, "abandoned")
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(writer, timeout=2.0)

    async def _write(self, ws: WebSocket, session: Session) -> None:
        try:
            while (text := await session.outbox.get()) is not None:
                await ws.send_text(text)
            if session.close_code is not None:
                await ws.send_text(protocol.error("closed", session.close_reason))
                await ws.close(code=session.close_code, reason=session.close_reason[:120])
        except (WebSocketDisconnect, RuntimeError, OSError):
            session.outbox.close()


def create_app(config: AppConfig, store: RegistryStore | None = None) -> FastAPI:
    """The ASGI app. Registry problems at startup raise RegistryError before it is built."""
    state = App(config, store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(state.hub.warm_up)
        tasks = [
            asyncio.create_task(state.hub.run(), name="tick-loop"),
            asyncio.create_task(state.watch_registry(), name="registry-watch"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            state.hub.close_all()
            state.recorder.flush()
            state.recorder.close()

    app = FastAPI(title="car-ai-rl simulator", lifespan=lifespan, docs_url="/api/docs")
    app.state.sim = state
    app.add_middleware(
        HostGuard, allowed_hosts=config.allowed_hosts, allowed_origins=config.allowed_origins
    )
    quiet_client_faults()

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {
            "ok": True,
            "sessions": len(state.hub.sessions),
            "tick": state.hub.tick,
            "pid": os.getpid(),
        }

    @app.get("/api/stats")
    async def stats() -> dict[str, Any]:
        return state.hub.stats_summary()

    @app.get("/api/registry")
    async def registry() -> dict[str, Any]:
        return state.store.status()

    @app.post("/api/registry/reload")
    async def reload_registry() -> JSONResponse:
        try:
            changed = await state.reload_registry()
        except RegistryError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, status_code=422)
        return JSONResponse({"ok": True, "changed": changed, "registry": state.store.status()})

    @app.get("/api/missions")
    async def list_missions(
        limit: int = Query(100, ge=1, le=1000),
        session_id: str | None = Query(None, max_length=64),
    ) -> dict[str, Any]:
        await run_in_threadpool(state.recorder.flush, 5.0)
        rows = await run_in_threadpool(state.recorder.list, limit, session_id)
        live = [
            m for m in state.hub.live_missions() if not session_id or m["session_id"] == session_id
        ]
        return {"missions": rows, "live": live}

    @app.get("/models/{name}")
    async def model_file(name: str) -> Response:
        entry = state.store.current.models.get(name) if MODEL_NAME.match(name) else None
        if entry is None:
            raise HTTPException(404, f"no model named {name!r} in the registry")
        return Response(
            entry.data,
            media_type="application/octet-stream",
            headers={
                "ETag": f'"{entry.sha256}"',
                "Cache-Control": "no-cache",
                "X-Model-Sha256": entry.sha256,
            },
        )

    @app.get("/vendor/{package}/{name}")
    async def vendor_file(package: str, name: str) -> FileResponse:
        found = config.vendor_file(package, name)
        if found is None:
            raise HTTPException(404, "not a browser module this page uses")
        path, media_type = found
        if not path.is_file():
            raise HTTPException(
                404,
                f"{package} is not installed: run `npm ci` in {config.web_dir} and reinstall",
            )
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        await state.serve_session(ws)

    app.mount("/", StaticFiles(directory=config.public_dir, html=True), name="page")
    return app
