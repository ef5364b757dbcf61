"""After an erasure, archived landing files are rewritten without the erased customers' lines,
in their own format, other lines untouched; the warehouse is rewritten into a fresh file
because a checkpoint leaves the bytes of deleted rows in it (issue 14, finding 3)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundation.contract.examples import example
from ingestion.loader import connect
from ingestion.loader.archives import rewrite_archives, rewrite_without
from ingestion.loader.load import load_file
from ingestion.loader.warehouse import compact

PROFILE = example("customer.created")["data"]
GONE = example("customer.created", n=1, customer_id="c_gone", data=PROFILE | {"email": "g@x.org"})
KEPT = example("customer.created", n=2, customer_id="c_kept", data=PROFILE | {"email": "k@x.org"})
GONE_BAD = json.dumps(GONE | {"event_id": "e-bad", "schema_version": 9})  # quarantined
ERASED = example("customer.erased", n=3, customer_id="c_gone")


def ndjson(*events: dict | str) -> bytes:
    return b"".join((e if isinstance(e, str) else json.dumps(e)).encode() + b"\n" for e in events)


def tabular(*events: dict) -> pa.Table:
    return pa.Table.from_pylist([e | {"data": json.dumps(e["data"])} for e in events])


def write(path: Path, *events: dict) -> None:
    if path.suffix == ".parquet":
        pq.write_table(tabular(*events), path)
    elif ".csv" in path.name:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(events[0]))
        writer.writeheader()
        writer.writerows(e | {"data": json.dumps(e["data"])} for e in events)
        data = out.getvalue().encode()
        path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    else:
        data = ndjson(*events)
        path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


@pytest.mark.parametrize("name", ["a.ndjson", "a.ndjson.gz", "a.csv", "a.csv.gz", "a.parquet"])
def test_a_file_is_rewritten_in_its_format_without_the_erased_lines(tmp_path: Path, name: str):
    path = tmp_path / name
    write(path, KEPT, GONE, KEPT | {"event_id": "e-4"})
    path.chmod(0o600)
    assert rewrite_without(path, {"c_gone"})
    con = connect(tmp_path / "w.duckdb")
    try:
        result = load_file(con, path)
        ids = [r[0] for r in con.execute("select event_id from raw.events order by 1").fetchall()]
    finally:
        con.close()
    assert (result.lines, result.quarantined) == (2, 0)
    assert ids == sorted([KEPT["event_id"], "e-4"])
    assert path.stat().st_mode & 0o777 == 0o600
    raw = path.read_bytes()
    assert b"g@x.org" not in (gzip.decompress(raw) if name.endswith(".gz") else raw)


def test_an_untouched_ndjson_file_keeps_its_bytes_and_lines(tmp_path: Path):
    path = tmp_path / "a.ndjson"
    path.write_bytes(ndjson(KEPT, GONE_BAD, KEPT | {"event_id": "e-4"}, "not json"))
    assert rewrite_without(path, {"c_other"})
    assert path.read_bytes() == ndjson(KEPT, GONE_BAD, KEPT | {"event_id": "e-4"}, "not json")
    assert rewrite_without(path, {"c_gone"})
    assert path.read_bytes() == ndjson(KEPT, KEPT | {"event_id": "e-4"}, "not json")


def test_an_unreadable_archive_is_deleted(tmp_path: Path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"PAR1 not really")
    assert not rewrite_without(path, {"c_gone"})
    assert not path.exists()


def test_the_pipeline_rewrites_each_archived_file_once_it_is_archived(tmp_path: Path):
    landing, archive = tmp_path / "landing", tmp_path / "landing" / "archive"
    landing.mkdir()
    con = connect(tmp_path / "w.duckdb")
    try:
        first = landing / "first.ndjson"
        first.write_bytes(ndjson(KEPT, GONE, GONE_BAD))
        loaded = load_file(con, first)
        target = archive / loaded.batch_id / first.name
        target.parent.mkdir(parents=True)
        first.rename(target)
        later = landing / "later.ndjson"
        later.write_bytes(ndjson(ERASED))
        erasure = load_file(con, later)
        report = rewrite_archives(con, archive, landing)  # `later` not archived yet: waits
        assert (report.rewritten, report.dropped) == (1, 0)
        assert target.read_bytes() == ndjson(KEPT)
        assert con.execute(
            "select count(*) from raw.erasure_archives where rewritten_at is null"
        ).fetchall() == [(1,)]
        moved = archive / erasure.batch_id / later.name
        moved.parent.mkdir(parents=True)
        later.rename(moved)
        rewrite_archives(con, archive, landing)
        assert moved.read_bytes() == b""  # its only line was the erased customer's
        assert con.execute(
            "select count(*) from raw.erasure_archives where rewritten_at is null"
        ).fetchall() == [(0,)]
        # the original dropped in landing again: skipped as loaded, archived over the rewrite
        again = landing / "first.ndjson"
        again.write_bytes(ndjson(KEPT, GONE, GONE_BAD))
        assert load_file(con, again).skipped
        again.replace(target)
        rewrite_archives(con, archive, landing, archived_again=[loaded.batch_id])
        assert target.read_bytes() == ndjson(KEPT)
    finally:
        con.close()


def test_the_warehouse_is_rewritten_without_the_bytes_a_checkpoint_leaves(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    con = connect(path)
    con.execute("create schema marts")
    con.execute(
        """create table marts.t as
           select 'c' || i as id, 'secret-' || md5(i::varchar) || md5((i + 1)::varchar) as v
           from range(2000) t(i)"""
    )
    con.execute("create view marts.v as select id from marts.t")
    secret = con.execute("select v from marts.t where id = 'c77'").fetchall()[0][0].encode()
    con.execute("checkpoint")
    con.execute("update marts.t set v = 'erased' where id = 'c77'")
    con.close()
    assert secret in path.read_bytes()  # freed, not overwritten

    def mark(c: duckdb.DuckDBPyConnection) -> None:
        c.execute("insert into raw.erasures_maintained values ('c77', now()::timestamp)")

    compact(path, in_copy=mark)
    assert secret not in path.read_bytes()
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("select count(*) from marts.v").fetchall() == [(2000,)]
        assert con.execute("select v from marts.t where id = 'c77'").fetchall() == [("erased",)]
        assert con.execute("select customer_id from raw.erasures_maintained").fetchall() == [
            ("c77",)
        ]
    finally:
        con.close()
