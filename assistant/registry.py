"""Backends chosen by name (embedders, readers, LLMs): the lookup their registries share."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TypeVar

from assistant.errors import ConfigError

T = TypeVar("T")


def lookup(
    registry: dict[str, T],
    built_in: dict[str, str],
    name: str,
    kind: str,
    also: Sequence[str] = (),
) -> T:
    """``registry[name]``, importing a built-in backend's module (it registers itself) on
    first use; an unknown name is a ConfigError listing ``also`` and every known name."""
    if name not in registry and name in built_in:
        importlib.import_module(built_in[name])
    spec = registry.get(name)
    if spec is None:
        known = ", ".join([*also, *sorted(set(registry) | set(built_in))])
        raise ConfigError(f"unknown {kind} {name!r}; choose one of: {known}")
    return spec
