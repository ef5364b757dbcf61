"""`churniq app` as started from the command line: it listens on 127.0.0.1 only and its
`/_stcore/metrics` endpoint (sessions, caches, without sign-in) does not answer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.shoot import free_port, served


def listening(port: int) -> set[str]:
    """The local addresses listening on `port`, from the kernel's own tables."""
    found = set()
    for table, family in (("/proc/net/tcp", "4"), ("/proc/net/tcp6", "6")):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            host, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(f"{family}:{host}")
    return found


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, monkeypatch_module) -> Iterator[str]:
    port = free_port()
    churniq = Path(sys.executable).with_name("churniq")
    with served(
        tmp_path_factory.mktemp("served"), port, [str(churniq), "app", "--port", str(port)]
    ) as url:
        httpx.get(f"{url}/_stcore/health").raise_for_status()
        yield url


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CHURNIQ_HOST", raising=False)
        yield patch


def test_listens_on_localhost_only(app_url: str) -> None:
    assert listening(int(app_url.rsplit(":", 1)[1])) == {
        "4:0100007F"
    }  # 127.0.0.1, not 0.0.0.0 nor ::


@pytest.mark.parametrize("path", ["/_stcore/metrics", "/_stcore/metrics/", "//_stcore/metrics"])
def test_the_metrics_endpoint_does_not_answer(app_url: str, path: str) -> None:
    response = httpx.get(app_url + path)
    assert response.status_code == 404 and "cache_memory_bytes" not in response.text
    assert httpx.get(app_url + "/").status_code == 200  # the dashboards still are


def test_stopping_churniq_app_stops_the_dashboards(tmp_path: Path, monkeypatch_module) -> None:
    """A service manager stops `churniq app` with SIGTERM; the Streamlit server it started must
    stop with it (it used to keep serving, orphaned, on the port)."""
    import time

    port = free_port()
    churniq = Path(sys.executable).with_name("churniq")
    with served(tmp_path, port, [str(churniq), "app", "--port", str(port)]) as url:
        httpx.get(f"{url}/_stcore/health").raise_for_status()
    deadline = time.time() + 20
    while listening(port) and time.time() < deadline:
        time.sleep(0.2)
    assert not listening(port)
