"""analysis depends on the tables only: importing it loads no training code.

`analysis` and every module under it are imported, one after another, in a fresh
interpreter; after each import, none of torch, ray, pydantic or the project's training
packages may be in sys.modules. The first module that brings one in is named.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "ray", "pydantic", "asib_sweeps", "search_spaces", "trainables")

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
