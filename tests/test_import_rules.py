"""analysis depends on the tables only: importing it loads no training code.

`analysis` and every module under it are imported, one after another, in a fresh
interpreter; after each import, none of torch, ray, pydantic or the project's training
packages may be in sys.modules, nor optuna: analysis may use it (Optuna's importance
evaluators, analysis.param_search) but only inside the function that needs it, so the
page's other figures and every importer of the tables do without its import. The first
module that brings one in is named.

Then, on the source (every import statement, lazy ones included): the layering of
docs/ARCHITECTURE.md, that nothing below the CLI imports it, and that the packages
(asib_sweeps.<sub>, trainables, search_spaces, cluster, analysis) form no import cycle.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "ray", "pydantic", "asib_sweeps", "search_spaces", "trainables", "optuna")

PROBE = """
import importlib, json, sys
forbidden = set(sys.argv[1].split(","))
loaded = lambda: sorted({name.partition(".")[0] for name in sys.modules} & forbidden)
found = {"<startup>": loaded()}
for module in sys.argv[2:]:
    importlib.import_module(module)
    found[module] = loaded()
    if found[module]:
        break
found["analysis.__file__"] = sys.modules["analysis"].__file__
print(json.dumps(found))
"""


def analysis_modules() -> list[str]:
    package = ROOT / "analysis"
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names, key=lambda name: (name != "analysis", name))


def test_analysis_imports_no_training_code() -> None:
    modules = analysis_modules()
    assert modules[0] == "analysis" and "analysis.report" in modules and "analysis.tune_experiment" in modules
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(FORBIDDEN), *modules],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found.pop("analysis.__file__")).resolve() == ROOT / "analysis" / "__init__.py"
    assert found.pop("<startup>") == []
    offenders = {module: names for module, names in found.items() if names}
    assert offenders == {}, f"the first module whose import loaded training code: {offenders}"
    assert list(found) == modules


# ---------------------------------------------------------------------------------------
# The package layering of docs/ARCHITECTURE.md, checked on the source: every import
# statement, lazy ones inside functions included.

CORE = (
    "asib_sweeps.config", "asib_sweeps.config_section", "asib_sweeps.config_files", "asib_sweeps.presets",
    "asib_sweeps.data", "asib_sweeps.models", "asib_sweeps.methods", "asib_sweeps.freezing",
    "asib_sweeps.training", "asib_sweeps.evaluation", "asib_sweeps.teachers", "asib_sweeps.published_teachers",
    "asib_sweeps.saved_models",
    "asib_sweeps.docs_config", "asib_sweeps.yaml12", "asib_sweeps.errors",
)
"""The training core: what a trial runs, usable without Ray."""

RULES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("analysis",): ("torch", "ray", "pydantic", "asib_sweeps", "search_spaces", "trainables", "cluster"),
    ("cluster",): ("torch", "asib_sweeps", "search_spaces", "trainables"),
    CORE: ("ray", "cluster", "search_spaces", "trainables", "asib_sweeps.cli", "asib_sweeps.api"),
    ("asib_sweeps.models",): ("asib_sweeps.methods", "asib_sweeps.training", "asib_sweeps.data", "asib_sweeps.config"),
    ("asib_sweeps.methods",): ("asib_sweeps.training", "asib_sweeps.data", "asib_sweeps.teachers"),
    ("search_spaces",): ("trainables", "cluster", "asib_sweeps.cli", "asib_sweeps.training"),
    ("trainables",): ("cluster", "asib_sweeps.cli"),
}
"""Which packages each group of modules must never import."""

METHOD_FILES_THE_LOOP_MAY_IMPORT = ("asib_sweeps.methods", "asib_sweeps.methods.base", "asib_sweeps.methods.functional")
"""The loop knows methods through the registry and the base class only."""


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


PACKAGES = ("asib_sweeps", "trainables", "search_spaces", "cluster", "analysis")
SOURCE_FILES = {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}
SOURCES = {module: _imports(path) for module, path in SOURCE_FILES.items()}


def test_packages_import_only_what_their_layer_allows() -> None:
    broken = [
        f"{module} imports {name}"
        for groups, forbidden in RULES.items()
        for module, names in SOURCES.items()
        if any(_within(module, group) for group in groups)
        for name in names
        if any(_within(name, banned) for banned in forbidden)
    ]
    assert not broken, "\n".join(broken)


def test_the_training_loop_imports_no_method_file() -> None:
    broken = [
        f"{module} imports {name}"
        for module, names in SOURCES.items()
        if _within(module, "asib_sweeps.training")
        for name in names
        if _within(name, "asib_sweeps.methods") and name not in METHOD_FILES_THE_LOOP_MAY_IMPORT
    ]
    assert not broken, "\n".join(broken)


def test_the_rules_see_every_package() -> None:
    assert {"asib_sweeps.training.run", "asib_sweeps.methods.asib", "analysis.tables", "cluster.slurm_job"} <= set(SOURCES)


# ---------------------------------------------------------------------------------------
# Nothing below the CLI imports it, and the packages form no cycle.

ENTRY_POINTS = ("asib_sweeps.cli", "asib_sweeps.api")
"""The commands and `run_study`: they join everything, so nothing else may import them."""

FACADE = "asib_sweeps"
"""`asib_sweeps/__init__.py` is the public face of `run_study` (`from asib_sweeps import
run_study`): its lazy import of asib_sweeps.api, made only when called, is that one door."""


def _imported_names(path: Path) -> set[str]:
    """Every module an import statement names, lazy ones included; `from P import X` names
    P.X when X is a module or an entry point of the project, else P."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                wanted = full in SOURCES or (node.module == FACADE and alias.name in ("api", "cli", "run_study"))
                names.add(full if wanted else node.module)
    return names


def _below_the_cli(module: str) -> bool:
    return module != FACADE and not any(_within(module, entry) for entry in ENTRY_POINTS)


def test_nothing_below_the_cli_imports_it() -> None:
    broken = [
        f"{module} imports {name}"
        for module, path in SOURCE_FILES.items()
        if _below_the_cli(module)
        for name in sorted(_imported_names(path))
        if any(_within(name, entry) for entry in ENTRY_POINTS) or name == f"{FACADE}.run_study"
    ]
    assert not broken, "\n".join(broken)


def _unit(module: str) -> str | None:
    """The package granularity of the cycle check: asib_sweeps.<sub>, or a top-level package."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    return ".".join(parts[:2]) if parts[0] == "asib_sweeps" else parts[0]


ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()
"""Known import edges that close a cycle, each with why it stays; the test fails on any other. None
since the config reads the torch-free catalog instead of the method registry (issue 22)."""


def package_graph(allowed: set[tuple[str, str]] = ALLOWED_CYCLE_EDGES) -> dict[str, dict[str, list[str]]]:
    """unit -> unit it imports -> the import statements behind that edge (module -> name)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for module, path in SOURCE_FILES.items():
        source = _unit(module)
        for name in sorted(_imported_names(path)):
            target = _unit(name)
            if source and target and target != source and (source, target) not in allowed:
                graph.setdefault(source, {}).setdefault(target, []).append(f"{module} -> {name}")
    return graph


def import_cycle(graph: dict[str, dict[str, list[str]]]) -> str | None:
    """One cycle of the graph with the import statements that close it; None if there is none."""
    try:
        graphlib.TopologicalSorter({unit: set(targets) for unit, targets in graph.items()}).prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        edges = [graph.get(a, {}).get(b) or graph.get(b, {}).get(a) for a, b in itertools.pairwise(cycle)]
        return f"{' <-> '.join(cycle)}; through: {edges}"
    return None


def test_the_packages_import_each_other_without_a_cycle() -> None:
    cycle = import_cycle(package_graph())
    assert cycle is None, f"import cycle {cycle}"


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = package_graph()
    graph.setdefault("asib_sweeps.catalog", {})["asib_sweeps.training"] = ["a made-up import"]  # training -> catalog exists
    cycle = import_cycle(graph)
    assert cycle is not None and "asib_sweeps.catalog" in cycle and "asib_sweeps.training" in cycle


def test_the_cli_check_sees_every_spelling_of_an_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def late():\n    from asib_sweeps import api, run_study\n    import asib_sweeps.cli.sweep\n"
        "from asib_sweeps.cli.stop_checkpoints import x\n"
    )
    names = _imported_names(probe)
    assert {"asib_sweeps.api", "asib_sweeps.run_study", "asib_sweeps.cli.sweep", "asib_sweeps.cli.stop_checkpoints"} <= names
