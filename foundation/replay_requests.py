"""Replay requests: files the dashboards write under `<home>/requests/` for the pipeline to
execute at the start of its next raw load (the dashboards never open the warehouse). Writing,
reading and listing them lives here, below every part, so that the app and the loader share it
without the app importing the loader; executing them is `ingestion.loader.replay`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from foundation.contract import Reason
from foundation.home import Home

REASON_CODES: tuple[str, ...] = tuple(r.value for r in Reason)


def check_reasons(reasons: Sequence[str] | None) -> tuple[str, ...]:
    """The reason codes, validated; ValueError names an unknown one."""
    chosen = tuple(dict.fromkeys(r.strip() for r in (reasons or ()) if r.strip()))
    unknown = [r for r in chosen if r not in REASON_CODES]
    if unknown:
        raise ValueError(
            f"unknown reason code {', '.join(unknown)} (one of: {', '.join(REASON_CODES)})"
        )
    return chosen


@dataclass(frozen=True)
class ReplayRequest:
    """One request file: who asked, when, for which reason codes (empty: every reason)."""

    request_id: str
    requested_by: str
    reason_codes: tuple[str, ...]
    requested_at: str
    path: Path | None = None
    error: str | None = None  # set when the file is unreadable or invalid

    def as_json(self) -> str:
        body = asdict(self)
        body.pop("path")
        body.pop("error")
        body["reason_codes"] = list(self.reason_codes)
        body["kind"] = "replay"
        return json.dumps(body, indent=2)


def requests_dir(home: Path) -> Path:
    return Home(Path(home)).requests


def write_request(
    home: Path, requested_by: str, reasons: Sequence[str] = (), now: datetime | None = None
) -> ReplayRequest:
    """File a replay request atomically (a temporary file renamed into place, so the pipeline
    never reads half a request). ValueError for an unknown reason code or no user."""
    if not requested_by:
        raise ValueError("a replay request must name the user who asks for it")
    chosen = check_reasons(reasons)
    at = (now or datetime.now(UTC)).replace(tzinfo=None)
    request_id = f"replay-{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
    folder = requests_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request_id}.json"
    request = ReplayRequest(request_id, requested_by, chosen, at.isoformat(), path)
    tmp = folder / f".{request_id}.tmp"
    tmp.write_text(request.as_json())
    os.replace(tmp, path)
    return request


def read_request(path: Path) -> ReplayRequest:
    """A request file; an invalid one comes back with `error` set (it is rejected, not lost)."""
    try:
        body = json.loads(path.read_text())
        if not isinstance(body, dict) or body.get("kind") != "replay":
            raise ValueError("not a replay request")
        reasons = body.get("reason_codes") or []
        if not isinstance(reasons, list):
            raise ValueError("reason_codes must be a list")
        return ReplayRequest(
            str(body.get("request_id") or path.stem),
            str(body.get("requested_by") or ""),
            check_reasons([str(r) for r in reasons]),
            str(body.get("requested_at") or ""),
            path,
        )
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        return ReplayRequest(path.stem, "", (), "", path, error=str(exc).splitlines()[0])


def pending_requests(home: Path) -> list[ReplayRequest]:
    """Requests not executed yet, oldest first."""
    folder = requests_dir(home)
    if not folder.is_dir():
        return []
    return [read_request(p) for p in sorted(folder.glob("*.json")) if not p.name.startswith(".")]


def archive_request(path: Path | None) -> None:
    """Move an executed request file to `requests/done/`."""
    if path is None or not path.exists():
        return
    done = path.parent / Home(path.parent.parent).requests_done.name
    done.mkdir(exist_ok=True)
    os.replace(path, done / path.name)
