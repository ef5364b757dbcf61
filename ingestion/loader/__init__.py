"""Loading contract files into the DuckDB warehouse."""

from .load import FileResult, IngestReport, expand_paths, ingest, load_file
from .readers import InputError
from .warehouse import connect

__all__ = [
    "FileResult",
    "IngestReport",
    "InputError",
    "connect",
    "expand_paths",
    "ingest",
    "load_file",
]
