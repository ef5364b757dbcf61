"""The dashboards' server: ``streamlit run app/server.py`` (what ``churniq app`` starts).

An ``st.App`` around the entry point ``main.py``, with one middleware that answers 404 on the
routes Streamlit opens to anybody without sign-in and churniq does not use: ``/_stcore/metrics``
(sessions, caches and their sizes; Streamlit has no option to turn it off). Files the app writes
in the home (sign-in throttling, replay requests) are the owner's alone (umask 077, as for the
``churniq`` command). Streamlit imports this file as a top-level module (``server``), so it
does not import the ``app`` package.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

CLOSED_ROUTES = ("/_stcore/metrics",)

os.umask(0o077)


def closed(path: str) -> bool:
    """Whether `path` (under any base URL, with doubled or trailing slashes) is a closed route."""
    normal = posixpath.normpath("/" + path.lstrip("/"))
    return any(normal == r or normal.endswith(r) for r in CLOSED_ROUTES)


class CloseRoutes:
    """ASGI middleware: 404 for the closed routes, everything else to Streamlit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and closed(scope["path"]):
            await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


app = st.App(Path(__file__).resolve().parent / "main.py", middleware=[Middleware(CloseRoutes)])
