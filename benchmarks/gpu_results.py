"""Merge the JSON files of benchmarks/gpu.sh's steps into one file of all figures, and print them.

    python benchmarks/gpu_results.py OUT.json --mode gpu|cpu --steps STEPS.tsv [--nvidia-smi FILE]
        [--total-s SECONDS] PART.json ...

Each PART is one benchmark's `--json` output; its `figures` (flat name -> number) land
in OUT's `figures` as `<benchmark>.<name>`, and the whole part under `benchmarks`.
STEPS.tsv has one line per step that gpu.sh ran: name, status (ok or failed ...), seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any


def read_steps(path: Path) -> dict[str, dict[str, Any]]:
    steps = {}
    for line in path.read_text().splitlines():
        if line.strip():
            name, status, seconds = line.split("\t")
            steps[name] = {"status": status, "seconds": float(seconds)}
    return steps


def read_nvidia_smi(path: Path | None) -> list[dict[str, str]] | str | None:
    """The `--format=csv` rows as dicts (header as keys), or the raw text when it is not CSV."""
    if path is None or not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 2 or "," not in lines[0]:
        return "\n".join(lines) or None
    header = [cell.strip() for cell in lines[0].split(",")]
    return [dict(zip(header, (cell.strip() for cell in line.split(",")))) for line in lines[1:]]


def merge(parts: list[Path], *, mode: str, steps: dict[str, Any], smi: Any, total_s: float | None) -> dict[str, Any]:
    benchmarks: dict[str, Any] = {}
    figures: dict[str, float] = {}
    for part in parts:
        payload = json.loads(part.read_text())
        name = payload.get("benchmark", part.stem)
        benchmarks[name] = payload
        figures.update({f"{name}.{key}": value for key, value in payload.get("figures", {}).items()})
    sync = benchmarks.get("step_overhead", {}).get("sync_check")
    machine = next((b["machine"] for b in benchmarks.values() if isinstance(b.get("machine"), dict)), {})
    return {
        "mode": mode,
        "note": None if mode == "gpu" else "--cpu: tiny sizes on the CPU; the figures check the code paths, "
        "they are not measurements",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "total_s": total_s,
        "device_name": machine.get("device_name"),
        "nvidia_smi": smi,
        "steps": steps,
        "failed": [name for name, step in steps.items() if step["status"] != "ok"],
        "sync_check_ok": None if sync is None else sync["ok"],
        "figures": figures,
        "benchmarks": benchmarks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("parts", type=Path, nargs="*")
    parser.add_argument("--mode", choices=["gpu", "cpu"], required=True)
    parser.add_argument("--steps", type=Path, required=True)
    parser.add_argument("--nvidia-smi", type=Path)
    parser.add_argument("--total-s", type=float)
    args = parser.parse_args()
    merged = merge(args.parts, mode=args.mode, steps=read_steps(args.steps), smi=read_nvidia_smi(args.nvidia_smi),
                   total_s=args.total_s)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    print(f"\n== figures ({merged['device_name']}, mode {args.mode}, {merged['total_s']} s in all)")
    for name, value in merged["figures"].items():
        shown = f"{value:,.4g}" if isinstance(value, (int, float)) and math.isfinite(value) else repr(value)
        print(f"  {name:45s} {shown}")
    print(f"sync check: {'passed' if merged['sync_check_ok'] else 'FAILED' if merged['sync_check_ok'] is False else 'not run'}")
    for name, step in merged["steps"].items():
        print(f"step {name:15s} {step['status']:20s} {step['seconds']:6.0f} s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
