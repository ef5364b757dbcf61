"""Hostile landing files: every case with its expected outcome per line (loaded, or quarantined
with a reason) or for the whole file (quarantined whole with one reason, nothing loaded), each
ingested beside a good file that must load in full. The ledger reconciles in every case:
lines = loaded + duplicate + quarantined."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundation.contract.examples import example
from ingestion.loader import connect, ingest
from ingestion.loader.readers import ENVELOPE_COLUMNS, Limits
from ingestion.loader.replay import replay

BOM = b"\xef\xbb\xbf"
LIMITS = Limits(
    max_lines=500,
    max_bytes=1_000_000,
    max_line_bytes=64_000,
    max_quarantined=50,
    max_quarantine_share=0.5,
)
_ids = itertools.count(1)
LOADED = "loaded"


def event(**changes) -> dict:
    return {**example("customer.created", n=next(_ids)), **changes}


def line(**changes) -> bytes:
    return json.dumps(event(**changes)).encode()


def ndjson(*lines: bytes, end: bytes = b"\n") -> bytes:
    return b"".join(x + end for x in lines)


def csv_bytes(rows: list[list[str]], header: tuple[str, ...] = ENVELOPE_COLUMNS) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([list(header), *rows])
    return out.getvalue().encode()


def row(**changes) -> list[str]:
    e = event(**changes)
    return [str(e[c]) if c != "data" else json.dumps(e["data"]) for c in ENVELOPE_COLUMNS]


def parquet_bytes(events: list[dict], columns: tuple[str, ...] = ENVELOPE_COLUMNS) -> bytes:
    table = pa.table(
        {c: [e[c] if c != "data" else json.dumps(e["data"]) for e in events] for c in columns}
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def newline_bomb(megabytes: int) -> bytes:
    """A gzip file of many members, each a megabyte of newlines: a few KB on disk."""
    return gzip.compress(b"\n" * 1_000_000) * megabytes


@dataclass
class Case:
    name: str
    filename: str
    content: Callable[[], bytes]
    expected: dict[int, str] | str  # line -> "loaded" or reason; a str: quarantined whole


def _csv_with(*texts: str) -> bytes:
    """A CSV of three good rows with `texts` as raw rows between the first and second (a CSV
    row's number is its line in the file: the header is line 1)."""
    good = csv_bytes([row(), row(), row()]).split(b"\n")
    raw = [t.encode() if isinstance(t, str) else t for t in texts]
    return b"\n".join(good[:2] + raw + good[2:])


CASES = [
    Case(
        "latin-1 byte in one line",
        "latin1.ndjson",
        lambda: ndjson(line(), line().replace(b'"DE"', b'"D\xe9"'), line()),
        {1: LOADED, 2: "invalid_encoding", 3: LOADED},
    ),
    Case(
        "UTF-8 BOM at the start of the file",
        "bom.ndjson",
        lambda: BOM + ndjson(line(), line()),
        {1: LOADED, 2: LOADED},
    ),
    Case(
        "UTF-8 BOM at the start of each line (files concatenated)",
        "bom-lines.ndjson",
        lambda: ndjson(BOM + line(), BOM + line(), line()),
        {1: LOADED, 2: LOADED, 3: LOADED},
    ),
    Case(
        "UTF-16 with its BOM",
        "utf16.ndjson",
        lambda: ndjson(line(), line()).decode().encode("utf-16"),
        "invalid_encoding",
    ),
    Case(
        "CRLF line ends",
        "crlf.ndjson",
        lambda: ndjson(line(), b"{oops", line(), end=b"\r\n"),
        {1: LOADED, 2: "malformed_json", 3: LOADED},
    ),
    Case(
        "blank and whitespace-only lines",
        "blank.ndjson",
        lambda: b"\n" + ndjson(line(), b"", b"   \t", b"\r", line()) + b"\n\n",
        {2: LOADED, 6: LOADED},
    ),
    Case("an empty file", "empty.ndjson", lambda: b"", {}),
    Case("a CSV of its header alone", "header.csv", lambda: csv_bytes([]), {}),
    Case(
        "a line over the line limit",
        "huge.ndjson",
        lambda: ndjson(line(), line(data={"country": "DE", "pad": "x" * 70_000}), line()),
        {1: LOADED, 2: "line_too_long", 3: LOADED},
    ),
    Case(
        "deeply nested brackets",
        "nested.ndjson",
        lambda: ndjson(line(), b"[" * 2000 + b"]" * 2000, b"{" * 3000, line()),
        {1: LOADED, 2: "malformed_json", 3: "malformed_json", 4: LOADED},
    ),
    Case(
        "more lines than the limit",
        "long.ndjson",
        lambda: ndjson(*(line() for _ in range(501))),
        "file_too_large",
    ),
    Case(
        "more than half the lines bad",
        "mostly-bad.ndjson",
        lambda: ndjson(*(line() for _ in range(60)), *(b"{oops" for _ in range(70))),
        "too_many_bad_lines",
    ),
    Case(
        "more bad lines than the count limit",
        "many-bad.ndjson",
        lambda: ndjson(*(line() for _ in range(300)), *(b"{oops" for _ in range(51))),
        "too_many_bad_lines",
    ),
    Case(
        "a few bad lines in a short file stay per line",
        "short-bad.ndjson",
        lambda: ndjson(b"{oops", b"[]"),
        {1: "malformed_json", 2: "not_an_object"},
    ),
    Case(
        "gzip, CRLF and a BOM",
        "crlf.ndjson.gz",
        lambda: gzip.compress(BOM + ndjson(line(), line(), end=b"\r\n")),
        {1: LOADED, 2: LOADED},
    ),
    Case(
        "truncated gzip",
        "cut.ndjson.gz",
        lambda: gzip.compress(ndjson(*(line() for _ in range(50))))[:-200],
        "unreadable_file",
    ),
    Case("not gzip at all", "fake.ndjson.gz", lambda: ndjson(line()), "unreadable_file"),
    Case("gzip bomb of newlines", "bomb.ndjson.gz", lambda: newline_bomb(5), "file_too_large"),
    Case(
        "CSV row with an extra column",
        "extra.csv",
        lambda: _csv_with(",".join(row()) + ",surplus"),
        {2: LOADED, 3: "malformed_row", 4: LOADED, 5: LOADED},
    ),
    Case(
        "CSV row with a column missing",
        "short.csv",
        lambda: _csv_with(",".join(row()[:-1])),
        {2: LOADED, 3: "malformed_row", 4: LOADED, 5: LOADED},
    ),
    Case(
        "CSV row with an unterminated quote",
        "quote.csv",
        lambda: _csv_with('x,"customer.created,1'),
        {2: LOADED, 3: "malformed_row", 4: LOADED, 5: LOADED},
    ),
    Case(
        "CSV row with a Latin-1 byte",
        "latin1.csv",
        lambda: _csv_with(b",".join(x.encode() for x in row()).replace(b"DE", b"D\xe9")),
        {2: LOADED, 3: "invalid_encoding", 4: LOADED, 5: LOADED},
    ),
    Case(
        "CSV with a BOM, CRLF and blank lines",
        "excel.csv",
        lambda: BOM + csv_bytes([row(), row()]).replace(b"\n", b"\r\n") + b"\r\n\r\n",
        {2: LOADED, 3: LOADED},
    ),
    Case(
        "CSV without an envelope column",
        "nodata.csv",
        lambda: csv_bytes([row()[:-1]], header=ENVELOPE_COLUMNS[:-1]),
        "unreadable_file",
    ),
    Case(
        "truncated gzipped CSV",
        "cut.csv.gz",
        lambda: gzip.compress(csv_bytes([row() for _ in range(50)]))[:-100],
        "unreadable_file",
    ),
    Case(
        "gzipped Parquet",
        "p.parquet.gz",
        lambda: gzip.compress(parquet_bytes([event(), event()])),
        {1: LOADED, 2: LOADED},
    ),
    Case(
        "truncated Parquet",
        "cut.parquet",
        lambda: parquet_bytes([event() for _ in range(20)])[:-30],
        "unreadable_file",
    ),
    Case(
        "Parquet without an envelope column",
        "nodata.parquet",
        lambda: parquet_bytes([event()], columns=ENVELOPE_COLUMNS[:-1]),
        "unreadable_file",
    ),
]


def outcomes(con: duckdb.DuckDBPyConnection, path: Path) -> dict[int, str] | str:
    """What happened to each line of `path`, or the one reason of a file quarantined whole."""
    rows = con.execute(
        """select source_line, 'loaded' from raw.events where source_file = $1
           union all
           select source_line, reason_code from raw.quarantine where source_file = $1""",
        [str(path)],
    ).fetchall()
    whole = [reason for line_no, reason in rows if line_no == 0]
    if whole:
        assert len(rows) == 1, rows
        return whole[0]
    return dict(sorted(rows))


def assert_ledger_reconciles(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "select source_file, lines, loaded, duplicates, quarantined from raw.load_ledger"
    ).fetchall()
    for source, lines, loaded, duplicates, quarantined in rows:
        assert lines == loaded + duplicates + quarantined, source
        events, bad = con.execute(
            """select (select count(*) from raw.events where source_file = $1),
                      (select count(*) from raw.quarantine where source_file = $1)""",
            [source],
        ).fetchall()[0]
        assert (events, bad) == (loaded, quarantined), source


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """Every hostile file and a good one, landed together and ingested in one call."""
    folder = tmp_path_factory.mktemp("corpus")
    for case in CASES:
        (folder / case.filename).write_bytes(case.content())
    (folder / GOOD).write_bytes(ndjson(line(), line(), line()))
    con = connect(folder / "w.duckdb")
    report = ingest(con, [folder], limits=LIMITS)
    assert report.lines == report.loaded + report.duplicates + report.quarantined
    assert len(report.files) == len(CASES) + 1 and not report.errors
    yield con, folder
    con.close()


GOOD = "zz-good.ndjson"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file(case: Case, corpus):
    con, folder = corpus
    assert outcomes(con, folder / case.filename) == case.expected


def test_hostile_files_never_stop_a_good_one_and_the_ledger_reconciles(corpus):
    con, folder = corpus
    assert outcomes(con, folder / GOOD) == {1: LOADED, 2: LOADED, 3: LOADED}
    assert_ledger_reconciles(con)
    # re-running is safe: every file is seen, nothing is quarantined twice
    before = con.execute("select count(*) from raw.quarantine").fetchall()
    again = ingest(con, [folder], limits=LIMITS)
    assert all(f.skipped for f in again.files)
    assert con.execute("select count(*) from raw.quarantine").fetchall() == before


def test_a_newline_flood_is_dropped_not_quarantined(tmp_path: Path):
    """1,000,000 blank lines (a 1 KB gzip) and one event: one line in the ledger, no
    quarantine; the issue's 5,000,000-line flood made 5,000,000 quarantine rows."""
    f = tmp_path / "flood.ndjson.gz"
    f.write_bytes(gzip.compress(b"\n" * 1_000_000 + line() + b"\n" + b"\r\n" * 1000))
    con = connect(tmp_path / "w.duckdb")
    try:
        report = ingest(con, [f])
        assert (report.lines, report.loaded, report.quarantined) == (1, 1, 0)
        assert con.execute("select source_line from raw.events").fetchall() == [(1_000_001,)]
        assert_ledger_reconciles(con)
    finally:
        con.close()


def test_a_gzip_bomb_is_never_inflated_into_memory(tmp_path: Path):
    """8 GB of newlines in an 8 MB gzip: stopped at the byte limit, in well under a second
    and without the memory to hold what it would inflate to."""
    f = tmp_path / "bomb.ndjson.gz"
    f.write_bytes(newline_bomb(8000))
    con = connect(tmp_path / "w.duckdb")
    try:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        report = ingest(con, [f], limits=Limits(max_bytes=50_000_000))
        assert time.perf_counter() - started < 5
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
        assert grown_mb < 400, grown_mb
        assert report.files[0].rejected == "file_too_large"
        assert outcomes(con, f) == "file_too_large"
    finally:
        con.close()


def test_whole_file_and_reader_quarantine_survive_replay(tmp_path: Path):
    """A replay re-validates quarantined lines; what the readers refused (a file quarantined
    whole, a malformed CSV row) is left as it is, not re-judged as JSON."""
    files = {c.filename: c for c in CASES if c.filename in ("extra.csv", "cut.ndjson.gz")}
    for name, case in files.items():
        (tmp_path / name).write_bytes(case.content())
    con = connect(tmp_path / "w.duckdb")
    try:
        ingest(con, [tmp_path / n for n in files], limits=LIMITS)
        before = con.execute("select * from raw.quarantine order by all").fetchall()
        result = replay(con)
        assert result.attempted == 0
        assert con.execute("select * from raw.quarantine order by all").fetchall() == before
    finally:
        con.close()


def test_the_pipeline_loads_the_good_file_and_the_outbox_beside_bad_ones(
    tmp_path: Path, monkeypatch
):
    """The issue's case: a CSV with a non-UTF-8 byte in landing made `churniq run` exit 2, with
    the good file beside it and the core's outbox not loaded. The raw step now loads the good
    file, the CSV's good rows and the outbox, quarantines a truncated gzip whole, reports it,
    and archives every file it judged."""
    import dagster as dg

    from pipelines.dbt_project import prepare_manifest

    prepare_manifest()
    from pipelines.assets.ingestion import raw_events
    from pipelines.resources import ChurniqConfig
    from tests.ingestion.core_support import make_core

    home = tmp_path / "home"
    landing = home / "landing"
    landing.mkdir(parents=True)
    case = {c.filename: c for c in CASES}
    (landing / "a-latin1.csv").write_bytes(case["latin1.csv"].content())
    (landing / "b-cut.ndjson.gz").write_bytes(case["cut.ndjson.gz"].content())
    (landing / "c-good.ndjson").write_bytes(ndjson(line(), line()))
    (landing / "d-long.ndjson").write_bytes(ndjson(*(line() for _ in range(11))))
    monkeypatch.setenv("CHURNIQ_INGEST_MAX_LINES", "10")  # the settings reach the loader
    core = make_core(f"sqlite:///{home / 'core.db'}")
    core.commit([event()])
    [result, _views] = raw_events(dg.build_asset_context(), churniq=ChurniqConfig(home=str(home)))
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert meta["outbox_loaded"] == 1
    assert meta["loaded"] == 3 + 2 + 1 and meta["files_quarantined"] == [
        "b-cut.ndjson.gz",
        "d-long.ndjson",
    ]
    assert not list(landing.glob("*.*"))  # every file judged and archived
    con = connect(home / "warehouse.duckdb")
    try:
        assert_ledger_reconciles(con)
        reasons = con.execute("select reason_code from raw.quarantine order by 1").fetchall()
        assert reasons == [("file_too_large",), ("invalid_encoding",), ("unreadable_file",)]
    finally:
        con.close()


def test_an_open_quote_costs_one_csv_row_not_the_rest_of_the_file():
    """A quote left open swallows the lines after it; past MAX_ROW_LINES (or at the end of
    the file) its row is refused as its first line alone and reading resumes on the next."""
    from ingestion.loader.csv_reader import MAX_ROW_LINES, read_csv

    data = b"h1,h2\n" + b'1,"open\n' + b"a,b\n" * (MAX_ROW_LINES + 50)
    rows = read_csv(data)
    assert [(line_no, text) for line_no, text, _ in rows.refused] == [(2, '1,"open')]
    assert rows.refused[0][2].startswith("malformed_row|")
    assert rows.line_no == list(range(3, MAX_ROW_LINES + 53)) and rows.rows[0] == ["a", "b"]


def test_a_validator_failure_on_one_file_leaves_it_for_the_next_run_and_loads_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Should the batch validator itself fail on some value (as a 2,000-deep line once made it
    overflow), that file is reported and left in place with nothing of it written, and the
    files beside it load; once the validator works, the next ingest loads it."""
    import ingestion.loader.load as load

    (tmp_path / "a_bad.ndjson").write_bytes(ndjson(line(event_id="bad-1")))
    (tmp_path / "b_good.ndjson").write_bytes(ndjson(line(event_id="good-1")))
    real = load.load_batch

    def failing(con, lines, source, **kw):
        if source.endswith("a_bad.ndjson"):
            raise duckdb.OutOfRangeException("Overflow in multiplication of INT32")
        return real(con, lines, source, **kw)

    con = connect(tmp_path / "w.duckdb")
    monkeypatch.setattr(load, "load_batch", failing)
    report = ingest(con, [tmp_path])
    assert [Path(f.path).name for f in report.errors] == ["a_bad.ndjson"]
    assert "not validated" in report.errors[0].detail
    assert con.execute("select event_id from raw.events").fetchall() == [("good-1",)]
    assert con.execute("select count(*) from raw.load_ledger").fetchone()[0] == 1
    monkeypatch.setattr(load, "load_batch", real)
    again = ingest(con, [tmp_path])
    assert not again.errors and again.loaded == 1
    assert sorted(r[0] for r in con.execute("select event_id from raw.events").fetchall()) == [
        "bad-1",
        "good-1",
    ]
    con.close()
