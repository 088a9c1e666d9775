"""Building frozen stage configs from JSON files and flag overrides (the edge of the system).

Stage configs are frozen dataclasses beside their logic, validated in ``__post_init__``.
Options are parsed once, here and in ``pipelines/``; stages never see argparse.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or flag that does not fit the stage config it targets."""


def _coerce(value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list | tuple):
        return tuple(value)
    return value


def build_config(cls: type[T], section: Mapping[str, Any] | None, name: str) -> T:
    """``cls(**section)`` with unknown keys reported by name; lists become tuples."""
    section = dict(section or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise ConfigError(
            f"config section '{name}': unknown field(s) {unknown}; known: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _coerce(v, hints.get(k)) for k, v in section.items()}
    return cls(**kwargs)


def load_config_file(path: str | None) -> dict[str, dict[str, Any]]:
    """Read a JSON config of ``{section: {field: value}}``; missing path -> empty config."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"--config {path}: no such file") from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"--config {path}: not valid JSON ({e})") from e
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"--config {path}: expected an object of sections, each an object")
    return data


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides whose value is not None replace base entries."""
    out = dict(base)
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def as_jsonable(obj: Any) -> Any:
    """A dataclass tree as plain JSON values (for funnel.json and manifests)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [as_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): as_jsonable(v) for k, v in obj.items()}
    return obj
