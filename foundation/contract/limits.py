"""Per-file limits of a landing file (CONTRACT.md, Bad input): the loader quarantines a file
over one of them whole, with one reason, and never loads it half. Settings `ingest_*`."""

from __future__ import annotations

from dataclasses import dataclass

SHARE_MIN_LINES = 100  # the quarantine share limit applies to files of at least this many lines


@dataclass(frozen=True)
class Limits:
    """Per-file limits (the `ingest_*` settings). A file over one is quarantined whole."""

    max_lines: int = 5_000_000  # physical lines (blank ones too), or Parquet rows
    max_bytes: int = 2 << 30  # after decompression (Parquet: uncompressed size of its pages)
    max_line_bytes: int = 1 << 20  # one event; a longer one is quarantined as line_too_long
    max_quarantined: int = 100_000  # quarantined lines
    max_quarantine_share: float = 0.5  # of the lines, in files of SHARE_MIN_LINES or more

    def bad_lines_over(self, lines: int, bad: int) -> str | None:
        """Why `bad` quarantined lines of `lines` are too many, or None."""
        if bad > self.max_quarantined:
            return f"{bad:,} of {lines:,} lines bad (limit: {self.max_quarantined:,} per file)"
        if lines >= SHARE_MIN_LINES and bad > self.max_quarantine_share * lines:
            return (
                f"{bad:,} of {lines:,} lines bad ({bad / lines:.0%}; limit: "
                f"{self.max_quarantine_share:.0%} per file)"
            )
        return None
