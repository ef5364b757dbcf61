"""The health of the latest loads, read from the ledger and the quarantine (for the pipeline's
quarantine check)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from .replay import REPLAY_FORMAT


@dataclass(frozen=True)
class RecentQuarantine:
    lines: int
    quarantined: int
    files_quarantined_whole: int

    @property
    def ratio(self) -> float:
        return self.quarantined / self.lines if self.lines else 0.0


def recent_quarantine(con: duckdb.DuckDBPyConnection) -> RecentQuarantine:
    """Lines and quarantined lines of the loads of the last hour of loading (replays aside), and
    the files among them quarantined whole."""
    lines, bad, whole = con.execute(
        """select coalesce(sum(lines), 0), coalesce(sum(quarantined), 0),
                  count(*) filter (where batch_id in (
                      select batch_id from raw.quarantine where source_line = 0))
           from raw.load_ledger
           where finished_at >= (select max(finished_at) from raw.load_ledger)
                                - interval 1 hour
             and file_format <> ?""",
        [REPLAY_FORMAT],
    ).fetchall()[0]
    return RecentQuarantine(int(lines), int(bad), int(whole))
