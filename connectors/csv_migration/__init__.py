"""CSV migration for businesses moving from another system: a declarative column mapping (TOML)
of customers, subscriptions and payments, presets for Stripe's dashboard exports and ChartMogul's
CSV import templates, and a pure translation into contract events of source `import`."""

from .presets import PRESETS, load_preset, preset_text
from .reading import CsvTable, UnreadableFile, parse_csv, read_csv
from .spec import FIELDS, MappingError, MappingSpec, load_mapping, parse_mapping
from .translate import SOURCE, FileReport, Migration, Reject, month_ceiling, translate_tables

__all__ = [
    "FIELDS",
    "PRESETS",
    "SOURCE",
    "CsvTable",
    "FileReport",
    "MappingError",
    "MappingSpec",
    "Migration",
    "Reject",
    "UnreadableFile",
    "load_mapping",
    "load_preset",
    "month_ceiling",
    "parse_csv",
    "parse_mapping",
    "preset_text",
    "read_csv",
    "translate_tables",
]
