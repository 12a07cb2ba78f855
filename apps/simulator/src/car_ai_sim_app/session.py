"""One browser session: its slot, outgoing queue, rate limits and current mission."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque

from car_ai_sim_app.config import Limits
from car_ai_sim_app.protocol import Controls
from car_ai_sim_app.records import MissionRecord
from car_ai_sim_app.registry import ModelEntry


class TokenBucket:
    """``rate_per_s`` messages per second on average, bursts up to ``burst``."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate_per_s)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Outbox:
    """Frames waiting to be written. Tick frames are droppable: when a reader falls behind,
    the oldest is dropped rather than letting the queue (or the tick loop) wait."""

    def __init__(self, max_droppable: int) -> None:
        self.max_droppable = max_droppable
        self._items: deque[tuple[str, bool]] = deque()
        self._droppable = 0
        self._event = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, text: str, droppable: bool = False) -> None:
        if self.closed:
            return
        if droppable:
            if self._droppable >= self.max_droppable:
                for i, (_, old_droppable) in enumerate(self._items):
                    if old_droppable:
                        del self._items[i]
                        self._droppable -= 1
                        self.dropped += 1
                        break
            self._droppable += 1
        self._items.append((text, droppable))
        self._event.set()

    async def get(self) -> str | None:
        """The next frame, or None once closed and drained."""
        while not self._items:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        text, droppable = self._items.popleft()
        if droppable:
            self._droppable -= 1
        return text

    def close(self) -> None:
        self.closed = True
        self._event.set()


class Session:
    """One connected page. Its counters live in the hub's CounterTable, row ``slot``."""

    def __init__(self, slot: int, outbox_frames: int, limits: Limits) -> None:
        self.id = secrets.token_hex(8)
        self.slot = slot
        self.outbox = Outbox(outbox_frames)
        self.bucket = TokenBucket(limits.messages_per_s, limits.message_burst)
        self.command_bucket = TokenBucket(limits.commands_per_s, limits.command_burst)
        self.ready = False  # true once its first frame is sent
        self.drives = 0
        self.answer: Controls | None = None
        self.model: ModelEntry | None = None
        self.mission: MissionRecord | None = None
        self.mission_text = ""
        self.missions_logged = 0  # rows this session has sent to the mission log
        self.last_seen = time.monotonic()  # of the last accepted message
        self.last_error_at = 0.0
        self.close_code: int | None = None
        self.close_reason = ""
        self.frame_cache: dict[str, object] = {}  # JSON parts of frames that rarely change

    def kick(self, code: int, reason: str) -> None:
        """Ask the writer to send ``reason`` as an error and close the connection."""
        self.close_code, self.close_reason = code, reason
        self.outbox.close()
