"""Server settings, limits, default paths and the simulator parameters the app runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from car_ai_rl.sim.params import SimParams

KMH_PER_MPS = 3.6
PROTOCOL_VERSION = 2

# Defaults relative to the working directory, like every car-ai-rl command: run from
# apps/training, these are what the README's main command writes and evaluation reads.
# The default model: the main job's shipped pick, else the seed document's final model.
DEFAULT_MODELS = (
    Path("runs") / "ppo-local" / "ppo-highway-best.onnx",
    Path("runs") / "ppo-local" / "ppo-highway-final.onnx",
)
DEFAULT_MISSION_LOG = Path("runs") / "mission_log.sqlite"
# The page and its npm packages ship inside the package (package data), so a regular install
# serves them as an editable one does.
WEB_DIR = Path(__file__).resolve().parent / "web"
NODE_MODULES = Path("node_modules")
# Browser modules served under /vendor/{package}/{file}, each from a fixed list.
VENDOR_FILES: dict[str, dict[str, tuple[str, str]]] = {
    "ort": {
        "ort.wasm.min.mjs": ("onnxruntime-web/dist", "text/javascript"),
        "ort-wasm-simd-threaded.mjs": ("onnxruntime-web/dist", "text/javascript"),
        "ort-wasm-simd-threaded.wasm": ("onnxruntime-web/dist", "application/wasm"),
    },
    "three": {
        "three.module.js": ("three/build", "text/javascript"),
        "three.core.js": ("three/build", "text/javascript"),
    },
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    commands_per_s: float = 0.5  # spoken or typed commands a session may send, on average
    command_burst: int = 8
    max_missions_per_session: int = 300  # mission-log rows one session may write

    def public(self) -> dict[str, Any]:
        return {
            "max_sessions": self.max_sessions,
            "max_message_bytes": self.max_message_bytes,
            "messages_per_s": self.messages_per_s,
            "message_burst": self.message_burst,
            "max_command_chars": self.max_command_chars,
            "idle_timeout_s": self.idle_timeout_s,
            "commands_per_s": self.commands_per_s,
            "command_burst": self.command_burst,
            "max_missions_per_session": self.max_missions_per_session,
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
    # Host names (without port) the server answers to, for HTTP and WebSocket alike; a page's
    # Origin must name one of them (or be in allowed_origins). Loopback only by default.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    limits: Limits = field(default_factory=Limits)
    sim_overrides: dict[str, Any] = field(default_factory=dict)

    def vendor_file(self, package: str, name: str) -> tuple[Path, str] | None:
        """Path and media type of an allowed browser module, or None."""
        entry = VENDOR_FILES.get(package, {}).get(name)
        if entry is None:
            return None
        folder, media_type = entry
        return self.web_dir / NODE_MODULES / folder / name, media_type

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
