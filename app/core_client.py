"""The app's way into the operational core: its HTTP API, with a retention API key.

Retention campaigns are launched in the core (the system of record), never written by the app
into the warehouse or the snapshot (DESIGN.md). Where the core is and the key to use come from
``CHURNIQ_CORE_API_URL`` and ``CHURNIQ_CORE_API_KEY``, or else from ``$CHURNIQ_HOME/core_api.json``
(``{"url": ..., "key": ...}``, mode 600) which ``churniq core create-key --role retention
--for-app`` and ``churniq demo`` write. The key is a secret: it never reaches the browser.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from foundation.home import Home

URL_ENV = "CHURNIQ_CORE_API_URL"
KEY_ENV = "CHURNIQ_CORE_API_KEY"
TIMEOUT_SECONDS = 60.0  # a launch writes one row per member


class CoreUnavailable(RuntimeError):
    """The core API is not configured, unreachable, or refused the request (message says why)."""


@dataclass(frozen=True)
class CoreConnection:
    url: str
    key: str

    def __repr__(self) -> str:  # never print the key
        return f"CoreConnection(url={self.url!r})"


def connection_path(home: Path) -> Path:
    return Home(home).core_api


def save_connection(home: Path, url: str, key: str) -> Path:
    """Write the app's connection to the core (owner-only file, replaced atomically)."""
    path = connection_path(home)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url.rstrip("/"), "key": key}, f)
    os.replace(tmp, path)
    return path


def load_connection(home: Path) -> CoreConnection | None:
    """The environment's connection, else the home's file; None when neither is set."""
    url, key = os.environ.get(URL_ENV), os.environ.get(KEY_ENV)
    if url and key:
        return CoreConnection(url.rstrip("/"), key)
    try:
        saved = json.loads(connection_path(home).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CoreUnavailable(f"{connection_path(home)} is unreadable: {exc}") from None
    if not isinstance(saved, dict) or not saved.get("url") or not saved.get("key"):
        raise CoreUnavailable(f"{connection_path(home)} needs a url and a key")
    return CoreConnection(str(saved["url"]).rstrip("/"), str(saved["key"]))


class CoreClient:
    """The few calls of the core API the dashboards make."""

    def __init__(self, connection: CoreConnection, transport: httpx.BaseTransport | None = None):
        self._http = httpx.Client(
            base_url=connection.url,
            headers={"Authorization": f"Bearer {connection.key}"},
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    def __enter__(self) -> CoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CoreUnavailable(
                f"the core API at {self._http.base_url} is unreachable: {exc}"
            ) from None
        if response.status_code >= 400:
            raise CoreUnavailable(
                f"the core API refused ({response.status_code}): {_detail(response)}"
            )
        return response.json()

    def coupons(self) -> list[dict[str, Any]]:
        """The active coupons, by id."""
        return [c for c in self._call("GET", "/coupons")["coupons"] if c.get("active", True)]

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign, newest first (id, name, coupon, control share, created)."""
        return list(self._call("GET", "/campaigns")["campaigns"])

    def launch_campaign(
        self,
        *,
        name: str,
        coupon_id: str,
        customer_ids: list[str],
        control_share: float,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """Launch a campaign; the same `idempotency_key` never launches twice (a retry after a
        lost answer returns the first launch)."""
        body = {
            "name": name,
            "coupon_id": coupon_id,
            "customer_ids": customer_ids,
            "control_share": control_share,
        }
        return self._call(
            "POST", "/campaigns", json=body, headers={"Idempotency-Key": idempotency_key}
        )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]  # the core's error body: {"error": code, "message": text}
    return json.dumps(body)[:300]
