"""The app's only access to data: the published, read-only serving snapshot.

Rules (DESIGN.md, "Storage and concurrency"):

* Only ``$CHURNIQ_HOME/serving.duckdb`` is read, never the warehouse: the pipeline holds the
  warehouse's write lock, which would also block readers in this process.
* Each query opens the file read-only and closes it, so the publish step can swap a new
  snapshot in at any time and the next query sees it.
* Every query is cached with ``st.cache_data`` and takes a :class:`Source` (path + version) as
  its first argument, so a new snapshot means new cache keys and no stale numbers.
* Aggregation happens in DuckDB; what comes back is at most a few rows per month.

Functions return ``None`` (or empty lists) when the snapshot or a table does not exist yet;
pages then show :func:`app.components.empty_state`.

One module a page (``app.data.<page>`` beside ``app/views/<page>.py``), the snapshot itself
and what the pages share in :mod:`app.data.snapshot`.
"""
