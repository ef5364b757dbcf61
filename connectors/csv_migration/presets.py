"""The mappings shipped for public export formats: `stripe` (Stripe's dashboard exports of
customers and subscriptions) and `chartmogul` (ChartMogul's CSV import templates)."""

from __future__ import annotations

import tomllib
from importlib.resources import files

from .spec import MappingError, MappingSpec, parse_mapping

PRESETS = ("stripe", "chartmogul")


def preset_text(name: str) -> str:
    """The TOML of a preset (a starting point for a mapping of one's own)."""
    if name not in PRESETS:
        raise MappingError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return (files(__package__) / "presets" / f"{name}.toml").read_text(encoding="utf-8")


def load_preset(name: str) -> MappingSpec:
    return parse_mapping(tomllib.loads(preset_text(name)), name=f"preset {name}")
