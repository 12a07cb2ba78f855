"""The model registry: which exported ONNX model drives which mission kind.

A registry file is JSON::

    {"models": {"highway": {"path": "ppo-highway-final.onnx"}},
     "missions": {"cruise": "highway", "lane": "highway", "exit": "highway"},
     "default": "highway"}

Paths are relative to the registry file. A mission kind not listed in ``missions`` uses
``default``, or the only model when there is one. Every model is read once, checked against
the simulator's observation schema, and served from memory, so the page gets exactly the bytes
that were checked.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from car_ai_rl.errors import UserError
from car_ai_rl.policies.onnx_policy import (
    BULKY_METADATA,
    check_action_mode,
    check_interface,
    check_schema,
)
from car_ai_rl.sim.observation import OBS_DIM, OBS_FEATURES
from car_ai_rl.sim.views import MISSION_KIND_NAMES

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
REGISTRY_KEYS = {"models", "missions", "default"}
MAX_REGISTRY_BYTES = 1 << 20


class RegistryError(UserError):
    """A registry file or model that cannot be used; the message says why."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    data: bytes = field(repr=False)
    sha256: str
    metadata: dict[str, str]

    @property
    def identity(self) -> dict[str, Any]:
        """The same identity car_ai_rl's policies report, for the shared mission log."""
        return {
            "kind": "onnx",
            "path": str(self.path),
            "sha256": self.sha256,
            "metadata": {k: v for k, v in self.metadata.items() if k not in BULKY_METADATA},
        }

    @property
    def label(self) -> str:
        meta = self.metadata
        algo = meta.get("algo", "?").upper()
        steps = meta.get("train_steps", "?")
        return f"{self.name} · {algo} {meta.get('action_mode', '?')} · {steps} steps · {self.sha256[:8]}"

    def public(self) -> dict[str, Any]:
        meta = self.metadata
        return {
            "name": self.name,
            "url": f"/models/{self.name}?v={self.sha256[:16]}",
            "sha256": self.sha256,
            "bytes": len(self.data),
            "label": self.label,
            "algo": meta.get("algo"),
            "action_mode": meta.get("action_mode"),
            "train_steps": meta.get("train_steps"),
            "obs_schema_version": meta.get("obs_schema_version"),
            "sim_params_hash": meta.get("sim_params_hash"),
        }


@dataclass(frozen=True)
class Registry:
    version: int
    source: str
    models: dict[str, ModelEntry]
    missions: dict[str, str]  # mission kind -> model name
    watched: tuple[Path, ...]  # files whose change triggers a reload

    def model_for(self, kind: str) -> ModelEntry | None:
        name = self.missions.get(kind)
        return self.models.get(name) if name else None

    def content_key(self) -> tuple[Any, ...]:
        models = tuple(sorted((n, m.sha256) for n, m in self.models.items()))
        return models, tuple(sorted(self.missions.items()))

    def public(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "source": self.source,
            "models": {name: m.public() for name, m in sorted(self.models.items())},
            "missions": dict(self.missions),
        }


def check_model(name: str, path: Path, data: bytes) -> dict[str, str]:
    """The model's metadata, after checking it is a loadable actor for this observation schema."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types on bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RegistryError(f"model {name!r}: {path}: not a loadable ONNX model: {first}") from None
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    try:
        check_schema(metadata, path)
        check_interface(session, path, check_action_mode(metadata, path))
    except UserError as exc:
        raise RegistryError(f"model {name!r} refused: {exc}") from None
    check_features(name, path, metadata)
    return metadata


def check_features(name: str, path: Path, metadata: dict[str, str]) -> None:
    """The feature list in the model must be the simulator's, name for name."""
    dim = metadata.get("obs_dim")
    if dim is not None and dim != str(OBS_DIM):
        raise RegistryError(
            f"model {name!r} refused: {path}: it takes {dim} observation values, the simulator "
            f"gives {OBS_DIM}"
        )
    raw = metadata.get("obs_features")
    if raw is None:
        raise RegistryError(
            f"model {name!r} refused: {path}: no obs_features metadata; export it with "
            "`car-ai-rl export`"
        )
    try:
        features = json.loads(raw)
    except json.JSONDecodeError:
        raise RegistryError(f"model {name!r} refused: {path}: unreadable obs_features") from None
    if features != list(OBS_FEATURES):
        diff = next(
            (i for i, (a, b) in enumerate(zip(features, OBS_FEATURES, strict=False)) if a != b),
            min(len(features), len(OBS_FEATURES)),
        )
        got = features[diff] if diff < len(features) else "(end)"
        want = OBS_FEATURES[diff] if diff < len(OBS_FEATURES) else "(end)"
        raise RegistryError(
            f"model {name!r} refused: {path}: its observation features differ from the "
            f"simulator's at position {diff} ({got!r} vs {want!r}); re-export it for this build"
        )


def load_model(name: str, path: Path, max_bytes: int) -> ModelEntry:
    if not MODEL_NAME.match(name):
        raise RegistryError(
            f"model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise RegistryError(f"model {name!r}: {path}: {size} bytes, over the {max_bytes} limit")
        data = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"model {name!r}: {path}: file not found") from None
    except IsADirectoryError:
        raise RegistryError(f"model {name!r}: {path}: is a directory") from None
    except OSError as exc:
        raise RegistryError(f"model {name!r}: {path}: cannot read: {exc.strerror}") from None
    metadata = check_model(name, path, data)
    return ModelEntry(name, path, data, hashlib.sha256(data).hexdigest(), metadata)


def _read_registry_json(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"registry {path}: file not found") from None
    except OSError as exc:
        raise RegistryError(f"registry {path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_REGISTRY_BYTES:
        raise RegistryError(f"registry {path}: larger than {MAX_REGISTRY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"registry {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RegistryError(f"registry {path}: must be a JSON object")
    unknown = sorted(set(data) - REGISTRY_KEYS)
    if unknown:
        raise RegistryError(f"registry {path}: unknown key {unknown[0]!r}")
    return data


def _model_paths(data: dict[str, Any], path: Path) -> dict[str, Path]:
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise RegistryError(f"registry {path}: 'models' must be a non-empty object")
    out: dict[str, Path] = {}
    for name, spec in models.items():
        where = f"registry {path}: models.{name}"
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise RegistryError(f"{where}: must be a path or an object with a 'path' string")
        extra = sorted(set(spec) - {"path", "description"})
        if extra:
            raise RegistryError(f"{where}: unknown key {extra[0]!r}")
        out[str(name)] = (path.parent / spec["path"]).resolve()
    return out


def _mission_map(data: dict[str, Any], names: list[str], path: Path) -> dict[str, str]:
    missions = data.get("missions", {})
    if not isinstance(missions, dict):
        raise RegistryError(f"registry {path}: 'missions' must be an object")
    default = data.get("default")
    if default is not None and default not in names:
        raise RegistryError(f"registry {path}: default {default!r} is not one of the models")
    if default is None and len(names) == 1:
        default = names[0]
    out: dict[str, str] = {}
    for kind in MISSION_KIND_NAMES:
        name = missions.get(kind, default)
        if name is None:
            raise RegistryError(
                f"registry {path}: mission kind {kind!r} has no model; list it under 'missions' "
                "or set 'default'"
            )
        if name not in names:
            raise RegistryError(f"registry {path}: missions.{kind}: unknown model {name!r}")
        out[kind] = name
    unknown = sorted(set(missions) - set(MISSION_KIND_NAMES))
    if unknown:
        raise RegistryError(
            f"registry {path}: missions: unknown mission kind {unknown[0]!r} (kinds: "
            f"{', '.join(MISSION_KIND_NAMES)})"
        )
    return out


def load_registry_file(path: Path, version: int, max_model_bytes: int) -> Registry:
    path = path.resolve()
    data = _read_registry_json(path)
    paths = _model_paths(data, path)
    missions = _mission_map(data, list(paths), path)
    models = {name: load_model(name, p, max_model_bytes) for name, p in paths.items()}
    return Registry(version, str(path), models, missions, (path, *paths.values()))


def single_model_registry(
    path: Path, version: int, max_model_bytes: int, required: bool = True
) -> Registry:
    """One model for every mission kind. A missing optional model gives an empty registry."""
    path = path.resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", path.stem)[:64] or "model"
    if not name[0].isalnum():
        name = f"m{name}"[:64]
    if not required and not path.exists():
        return Registry(version, str(path), {}, {}, (path,))
    model = load_model(name, path, max_model_bytes)
    return Registry(
        version, str(path), {name: model}, dict.fromkeys(MISSION_KIND_NAMES, name), (path,)
    )
