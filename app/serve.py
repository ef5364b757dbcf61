"""How the dashboards are served: one command line for the CLI, the tests and screenshots.

Streamlit runs :mod:`app.server` (an ``st.App`` around ``main.py``), not ``main.py`` itself, so
that the server can refuse the routes churniq does not want open (``/_stcore/metrics``)."""

from __future__ import annotations

import sys
from pathlib import Path

ENTRY_POINT = Path(__file__).resolve().parent / "main.py"
SERVER = Path(__file__).resolve().parent / "server.py"
DEFAULT_HOST = "127.0.0.1"


def streamlit_command(port: int, host: str = DEFAULT_HOST) -> list[str]:
    """`streamlit run` of the dashboards on `host:port` (127.0.0.1: this machine only)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(SERVER),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
