"""`churniq core serve`: the API under uvicorn."""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

from ..unit import Core
from .app import create_app

URL_ENV = "CHURNIQ_CORE_URL"


def app_from_env() -> FastAPI:
    """The app factory each uvicorn worker calls (the URL comes through the environment)."""
    return create_app(Core(os.environ[URL_ENV]))


def serve(url: str, port: int, host: str = "127.0.0.1", workers: int = 1) -> None:
    """Serve the core at `url` on `host:port` until interrupted."""
    os.environ[URL_ENV] = url
    uvicorn.run(
        "core.api.serve:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
    )
