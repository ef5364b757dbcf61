"""The core's HTTP API: `create_app(core)` builds it, `serve(url, port)` runs it."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
