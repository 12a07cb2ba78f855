"""Server settings, limits, default paths and the simulator parameters the app runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import car_ai_rl
from car_ai_rl.sim.params import SimParams

KMH_PER_MPS = 3.6
PROTOCOL_VERSION = 1

TRAINING_DIR = Path(car_ai_rl.__file__).resolve().parents[2]
DEFAULT_MODEL = TRAINING_DIR / "runs" / "ppo-local" / "ppo-highway-final.onnx"
DEFAULT_MISSION_LOG = TRAINING_DIR / "runs" / "mission_log.sqlite"
WEB_DIR = Path(__file__).resolve().parents[2] / "web"
ORT_DIST = Path("node_modules") / "onnxruntime-web" / "dist"


@dataclass(frozen=True)
class Limits:
    """What one client may do. Message sizes are bytes of UTF-8 text."""

    max_sessions: int = 256
    max_message_bytes: int = 4096
    max_frame_bytes: int = 65536  # beyond this the WebSocket layer closes the connection
    messages_per_s: float = 20.0
    message_burst: int = 40
    max_command_chars: int = 200
    idle_timeout_s: float = 60.0
    outbox_frames: int = 4  # tick frames queued for a slow reader before the oldest is dropped
    max_model_bytes: int = 64 * 1024 * 1024

    def public(self) -> dict[str, Any]:
        return {
            "max_sessions": self.max_sessions,
            "max_message_bytes": self.max_message_bytes,
            "messages_per_s": self.messages_per_s,
            "message_burst": self.message_burst,
            "max_command_chars": self.max_command_chars,
            "idle_timeout_s": self.idle_timeout_s,
        }


@dataclass(frozen=True)
class AppConfig:
    """Everything ``create_app`` needs. ``registry`` wins over ``model``; with neither, the
    default model (what the README's main command exports) is served."""

    model: Path | None = None
    registry: Path | None = None
    mission_log: Path = DEFAULT_MISSION_LOG
    web_dir: Path = WEB_DIR
    seed: int = 0
    time_scale: float = 1.0  # simulated seconds per wall second
    default_speed_kmh: float = 100.0
    watch_interval_s: float = 1.0
    allowed_origins: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    sim_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def ort_dir(self) -> Path:
        return self.web_dir / ORT_DIST

    @property
    def public_dir(self) -> Path:
        return self.web_dir / "public"


def app_sim_params(config: AppConfig) -> SimParams:
    """Long drives, missions only from the user, and every drive starting with a cruise
    mission at the default speed."""
    speed_mps = config.default_speed_kmh / KMH_PER_MPS
    base = {
        "episode_duration_s": 3600.0,
        "mission_changes": False,
        "mission_mix": {"cruise": 1.0, "lane": 0.0, "exit": 0.0},
        "target_speed_min_mps": speed_mps,
        "target_speed_max_mps": speed_mps,
    }
    return SimParams().replace(**{**base, **config.sim_overrides})
