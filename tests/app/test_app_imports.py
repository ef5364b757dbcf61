"""What the dashboards may import: the snapshot is their only data, so they need neither the model
libraries (scikit-learn, lifelines: seconds to import) nor the parts that write the warehouse.

The app imports `foundation`, itself, and of `models` only the display helpers that import no
model library; it talks to the core by HTTP only (app/core_client.py), never to `core`,
`ingestion`, `pipelines` or the command line.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
#: Scripts that Streamlit runs (importing them renders a page): checked by reading them.
SCRIPTS = {"main.py"} | {f"views/{p.name}" for p in (APP / "views").glob("*.py")}
MODEL_HELPERS = {
    "models.checks",
    "models.experiments",
    "models.run_metrics",
    "models.survival_parameters",
}
FIRST_PARTY = {"app", "foundation", "models", "core", "ingestion", "pipelines", "cli"}
#: The model libraries and the model files' loader. (scipy.optimize comes with statsmodels, which
#: the experiments' confidence intervals need: models.experiments.)
HEAVY = ("sklearn", "lifelines", "joblib")


def app_modules() -> list[str]:
    """Every module of the app that is not a Streamlit script, by dotted name."""
    names = []
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP)
        if relative.as_posix() in SCRIPTS:
            continue
        parts = ["app", *relative.with_suffix("").parts]
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported(path: Path) -> set[str]:
    """The modules a file imports, at any level (a function's own imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted(APP.rglob("*.py")), ids=lambda p: str(p.relative_to(APP)))
def test_the_app_imports_only_the_snapshot_side(path: Path) -> None:
    names = imported(path)
    assert not {n for n in names if n.split(".")[0] in HEAVY}
    assert "importlib" not in names and "__import__" not in path.read_text()
    for name in names:
        top = name.split(".")[0]
        if top not in FIRST_PARTY or top in ("app", "foundation") or name == "models":
            continue
        assert top == "models", f"{path.name} imports {name}: the app may not"
        # `from models import x` names the module x; `from models.x import f` names x.f
        assert any(name == m or name.startswith(f"{m}.") for m in MODEL_HELPERS), name


def test_importing_the_app_loads_no_model_library() -> None:
    """Each module in a fresh interpreter: nothing it pulls in, directly or not, is a model
    library or a layer the app must not reach."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {app_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=APP.parent
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(app_modules()) > 30
    assert not [m for m in loaded if m.startswith(HEAVY)]
    assert not [m for m in loaded if m.split(".")[0] in {"core", "ingestion", "pipelines", "cli"}]
    # the helpers and what they import of their own package
    models = {m for m in loaded if m.split(".")[0] == "models"}
    assert models <= MODEL_HELPERS | {"models", "models._frames"}, models
