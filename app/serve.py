"""How the dashboards are served: one command line for the CLI, the tests and screenshots."""

from __future__ import annotations

import sys
from pathlib import Path

ENTRY_POINT = Path(__file__).resolve().parent / "main.py"


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(ENTRY_POINT),
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
