"""Shared benchmark plumbing: run a step in a fresh process, report wall time and peak RSS."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


@dataclass
class Measured:
    label: str
    seconds: float
    peak_mb: float
    output: str
    load_seconds: float = 0.0


def run_measured(label: str, argv: list[str], env: dict | None = None) -> Measured:
    """Run `argv` as a child; peak memory is the child's max RSS (GNU time's %M)."""
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/env", "python3", "-c", _WRAPPER, *argv],
        capture_output=True, text=True, env=os.environ | (env or {}), cwd=REPO,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stdout}\n{proc.stderr}")
    out, _, peak = proc.stdout.rpartition("\n__peak_kb__=")
    return Measured(label, seconds, int(peak.strip()) / 1024, out)


# Runs the command, waits, prints the peak RSS of it and its children.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"\\n__peak_kb__={peak}")
sys.exit(code)
"""


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def write_result(name: str, markdown: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    path = RESULTS / f"{name}.md"
    path.write_text(markdown)
    return path
