"""`churniq core serve`: the API under uvicorn."""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

from ..unit import Core
from .app import create_app

URL_ENV = "CHURNIQ_CORE_URL"
STRIPE_SECRET_ENV = "CHURNIQ_STRIPE_WEBHOOK_SECRET"


def app_from_env() -> FastAPI:
    """The app factory each uvicorn worker process calls: a worker is a new interpreter, so the
    core's URL and the Stripe webhook secret reach it through the environment its parent set
    at start (`churniq core serve --workers N`)."""
    return create_app(Core(os.environ[URL_ENV]), os.environ.get(STRIPE_SECRET_ENV))


def serve(
    url: str,
    port: int,
    host: str = "127.0.0.1",
    workers: int = 1,
    stripe_webhook_secret: str | None = None,
) -> None:
    """Serve the core at `url` on `host:port` until interrupted. Several workers need
    `$CHURNIQ_CORE_URL` set to `url` (and `$CHURNIQ_STRIPE_WEBHOOK_SECRET` to the secret) by
    the starting process."""
    options = {"host": host, "port": port, "proxy_headers": True, "server_header": False}
    if workers == 1:
        uvicorn.run(create_app(Core(url), stripe_webhook_secret), **options)
        return
    if os.environ.get(URL_ENV) != url:
        raise ValueError(f"serving {workers} workers needs ${URL_ENV}={url} in the environment")
    if os.environ.get(STRIPE_SECRET_ENV) != stripe_webhook_secret:
        raise ValueError(f"serving {workers} workers needs ${STRIPE_SECRET_ENV} in the environment")
    uvicorn.run("core.api.serve:app_from_env", factory=True, workers=workers, **options)
