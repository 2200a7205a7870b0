"""Imports point down: every module under plixo/ sits in one layer (docs/architecture.md, "Layers"), and may import
only its own area and the layers below; nothing under plixo/ imports jobs/.

The layers cut across packages by what a module is: every area's tables (`models.py`) are one layer low down,
because rules of several areas read them (a dispute's rule rescores the queue, and the score reads disputes); every
area's pages (`views.py`, forms, CLI commands) sit on top. Imports inside functions and under TYPE_CHECKING count.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ("plixo.actions", "plixo.amounts", "plixo.audit", "plixo.background", "plixo.config", "plixo.crypto",
        "plixo.csv_safe", "plixo.devmail", "plixo.errors", "plixo.extensions", "plixo.failpoints", "plixo.generations",
        "plixo.htmx", "plixo.model", "plixo.money", "plixo.params", "plixo.redis_conn", "plixo.security",
        "plixo.templating", "plixo.tenancy", "plixo.values")
APP = ("plixo", "plixo.models", "plixo.cli", "plixo.devserver", "plixo.demo", "plixo.demo.*", "plixo.*.cli")
PAGES = ("plixo.*.views", "plixo.*.*_views", "plixo.*.forms", "plixo.*.*_forms")

# Bottom first. A layer holds one or more areas; areas of one layer are independent of each other.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("core",)),
    ("adapters", ("integrations",)),
    ("records", ("records",)),
    ("workspace", ("accounts", "connectors")),
    ("mailbox", ("mail",)),
    ("ledger", ("ledger",)),
    ("outreach", ("outreach",)),
    ("account rules", ("approvals", "disputes", "holds", "notes")),
    ("commitments", ("promises",)),
    ("intake", ("imports", "payments", "replies")),
    ("desks", ("customers", "insights", "ops", "portal", "queue")),
    ("pages", ("pages",)),
    ("app", ("app",)),
)
LAYER_OF = {area: index for index, (_name, areas) in enumerate(LAYERS) for area in areas}


def _matches(module: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(module, pattern) for pattern in patterns)


def area_of(module: str) -> str:
    """The area a module belongs to; pages keep their package's name, so two packages' pages stay apart."""
    if _matches(module, APP):
        return "app"
    if _matches(module, PAGES):
        return "pages:" + module.split(".")[1]
    if fnmatchcase(module, "plixo.*.models"):
        return "records"
    if module in CORE:
        return "core"
    return module.split(".")[1]


def layer_of(module: str) -> int:
    return LAYER_OF[area_of(module).split(":")[0]]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every plixo/jobs module the file imports, anywhere in it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.append((node.lineno, submodule if _is_module(submodule) else node.module))
    return [(line, name) for line, name in found if name.split(".")[0] in ("plixo", "jobs")]


def plixo_modules() -> list[tuple[str, Path]]:
    return sorted((module_name(path), path) for path in (ROOT / "plixo").rglob("*.py"))


def test_every_module_has_a_layer():
    # A new package must be given its place in LAYERS (and in docs/architecture.md) before it can be checked.
    unplaced = sorted(name for name, _path in plixo_modules() if area_of(name).split(":")[0] not in LAYER_OF)
    assert unplaced == []


def test_imports_point_down_and_areas_of_a_layer_stay_apart():
    wrong = []
    for name, path in plixo_modules():
        if area_of(name).split(":")[0] not in LAYER_OF:
            continue  # reported by test_every_module_has_a_layer
        for line, target in sorted(set(imported_modules(path))):
            if target.split(".")[0] == "jobs":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}: plixo never imports jobs/")
                continue
            if area_of(target) == area_of(name):
                continue
            if area_of(name) == "records" and area_of(target) != "core":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}: tables import core and tables only")
                continue
            if layer_of(target) >= layer_of(name):
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({area_of(name)}) imports {target} "
                             f"({area_of(target)}): not a lower layer")
    assert wrong == []


def test_the_layer_check_sees_a_wrong_import(tmp_path):
    # The check itself: an import from the ledger up into the queue, written the ways code writes imports.
    module = tmp_path / "wrong.py"
    module.write_text("def f():\n    from plixo.queue import inspector\n    import plixo.queue.queries\n")
    targets = [target for _line, target in imported_modules(module)]
    assert targets == ["plixo.queue.inspector", "plixo.queue.queries"]
    assert all(layer_of(target) > layer_of("plixo.ledger.priority") for target in targets)
