"""The house rules of the package, checked on its source: arrows point down.

Code that reads pictures (preprocess, decode, runtime, recognizer, serving, batch, review) never imports
training or evaluation; artifacts imports only models; training never imports evaluation.
Function-level imports count: they are imports all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "digitrec"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m == "digitrec" or m.startswith("digitrec.")}


MODULES = {module_name(p): imports_of(p) for p in SRC.rglob("*.py")}


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


PICTURE_READERS = (
    "digitrec.preprocess",
    "digitrec.layout",
    "digitrec.ctc",
    "digitrec.runtime",
    "digitrec.recognizer",
    "digitrec.serving",
    "digitrec.batch",
    "digitrec.processes",
    "digitrec.review",
)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if under(m, *PICTURE_READERS, "digitrec.artifacts")))
def test_code_that_reads_pictures_never_imports_training_or_evaluation(module: str) -> None:
    bad = sorted(i for i in MODULES[module] if under(i, "digitrec.training", "digitrec.evaluation", "digitrec.cli"))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if under(m, "digitrec.artifacts")))
def test_artifacts_import_only_models(module: str) -> None:
    allowed = ("digitrec.artifacts", "digitrec.models", "digitrec.errors", "digitrec.fileio", "digitrec.device")
    bad = sorted(i for i in MODULES[module] if i != "digitrec" and not under(i, *allowed))
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if under(m, "digitrec.training")))
def test_training_never_imports_evaluation(module: str) -> None:
    bad = sorted(i for i in MODULES[module] if under(i, "digitrec.evaluation", "digitrec.cli", "digitrec.serving"))
    assert not bad, f"{module} imports {bad}"


def test_one_module_reads_and_writes_checkpoints() -> None:
    """safetensors is used by the artifacts alone (the data cache writes npz, not weights)."""
    direct = sorted(
        module_name(p)
        for p in SRC.rglob("*.py")
        if "import safetensors" in p.read_text() or "from safetensors" in p.read_text()
    )
    assert direct == ["digitrec.artifacts.checkpoint"], direct
