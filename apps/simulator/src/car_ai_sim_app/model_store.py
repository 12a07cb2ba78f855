"""The live registry: the current :class:`Registry`, reloaded when its files change."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from car_ai_sim_app.config import DEFAULT_MODELS, AppConfig
from car_ai_sim_app.registry import (
    Registry,
    RegistryError,
    load_registry_file,
    single_model_registry,
)

log = logging.getLogger("car_ai_sim_app.registry")

Stamp = tuple[tuple[str, int, int], ...]


def file_stamp(paths: tuple[Path, ...]) -> Stamp:
    """(path, mtime_ns, size) of each file; missing files get (-1, -1)."""
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), -1, -1))
    return tuple(out)


class RegistryStore:
    """Loads the registry named by the config and keeps the last good one.

    A failed reload keeps serving the previous registry and records ``last_error``.
    """

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.last_error: str | None = None
        self.current = self._build(1)
        self._stamp = file_stamp(self.current.watched)

    def _build(self, version: int) -> Registry:
        max_bytes = self.config.limits.max_model_bytes
        if self.config.registry is not None:
            return load_registry_file(Path(self.config.registry), version, max_bytes)
        if self.config.model is not None:
            return single_model_registry(Path(self.config.model), version, max_bytes)
        return self._default_registry(version, max_bytes)

    def _default_registry(self, version: int, max_bytes: int) -> Registry:
        """The first of DEFAULT_MODELS that exists; both are watched, so the shipped pick
        replaces the final model as soon as it is exported."""
        path = next((p for p in DEFAULT_MODELS if p.exists()), DEFAULT_MODELS[0])
        registry = single_model_registry(path, version, max_bytes, required=False)
        if not registry.models:
            self.last_error = (
                f"no model yet: neither {' nor '.join(map(str, DEFAULT_MODELS))} exists (the "
                "README's main command exports them); the first to appear is picked up"
            )
            log.warning(self.last_error)
        return dataclasses.replace(registry, watched=tuple(p.resolve() for p in DEFAULT_MODELS))

    def changed_on_disk(self) -> bool:
        return file_stamp(self.current.watched) != self._stamp

    def reload(self) -> bool:
        """Re-read the registry and its models. True when what is served changed; raises
        RegistryError (keeping the current registry) when the new files are not usable."""
        stamp = file_stamp(self.current.watched)
        try:
            fresh = self._build(self.current.version + 1)
        except RegistryError as exc:
            self._stamp = stamp
            self.last_error = str(exc)
            log.error("registry reload refused: %s", exc)
            raise
        self._stamp = file_stamp(fresh.watched)
        if fresh.models:
            self.last_error = None
        if fresh.content_key() == self.current.content_key():
            self.current = dataclasses.replace(fresh, version=self.current.version)
            return False
        self.current = fresh
        log.info("registry version %d: %s", fresh.version, ", ".join(fresh.models) or "no models")
        return True

    def status(self) -> dict[str, object]:
        return {**self.current.public(), "last_error": self.last_error}
