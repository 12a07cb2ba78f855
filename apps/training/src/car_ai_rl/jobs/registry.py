"""Where job backends come from: the built-in ones and any installed under an entry point.

Backends are imported by name only when used; this module knows nothing of specs or of the
backend interface, so the spec can name the known backends without importing them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from car_ai_rl.errors import UserError

# Built-in backends as "module:Class"; imported only when used.
BUILTIN_BACKENDS: dict[str, str] = {
    "local": "car_ai_rl.jobs.local_backend:LocalBackend",
    "ray": "car_ai_rl.jobs.ray_backend:RayBackend",
}
# Installed packages can add backends under this entry-point group.
ENTRY_POINT_GROUP = "car_ai_rl.job_backends"


def _registry() -> dict[str, str]:
    registry = dict(BUILTIN_BACKENDS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        registry.setdefault(entry.name, entry.value)
    return registry


def backend_names() -> list[str]:
    return sorted(_registry())


def backend_class(name: str) -> Any:
    """The backend class registered as ``name`` (a subclass of ``jobs.backend.Backend``)."""
    target = _registry().get(name)
    if target is None:
        raise UserError(f"unknown backend {name!r} (known: {', '.join(backend_names())})")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_backend(name: str, store: Any) -> Any:
    """An instance of the backend ``name`` working on the job ``store``."""
    return backend_class(name)(store)
