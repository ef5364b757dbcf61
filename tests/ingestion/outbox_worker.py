"""A pull of the core outbox in its own process, for the tests that SIGKILL it.

    python tests/ingestion/outbox_worker.py WAREHOUSE CORE_URL BATCH_SIZE MARKER [HANG_AT]

Writes MARKER once imported (`ready`). With HANG_AT = n, the n-th batch stops inside its
DuckDB transaction, after its cursor row is written and before the commit, rewrites MARKER to
`in-transaction` and sleeps until killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ingestion.loader import connect
from ingestion.sources import core_outbox


def main(warehouse: str, url: str, batch_size: str, marker: str, hang_at: str = "0") -> None:
    mark = Path(marker)
    batches = 0
    load_batch = core_outbox.load_batch

    def stalled_load_batch(con, lines, source, *, in_transaction, **kw):
        def hook(c, result):
            nonlocal batches
            in_transaction(c, result)
            batches += 1
            if batches == int(hang_at):
                mark.write_text("in-transaction")
                time.sleep(600)

        return load_batch(con, lines, source, in_transaction=hook, **kw)

    core_outbox.load_batch = stalled_load_batch
    con = connect(Path(warehouse))
    mark.write_text("ready")
    core_outbox.pull_outbox(con, url, batch_size=int(batch_size))
    con.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
