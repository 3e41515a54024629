"""Instructions per training step of a workload, counted with callgrind (valgrind).

Wall-clock times move with the neighbours on the cores; instruction counts hardly do, so a
change to the core is also measured this way (docs/performance.md). The workload runs twice
under callgrind, for N and for 2N steps, in a fresh process each, with BLAS on one thread and
a fixed hash seed; the difference of the two totals over N is one step's count, with the
imports and the set-up cancelled out.

    python benchmarks/count.py W1 W3 W5         # eager steps
    python benchmarks/count.py W3 --steps 200   # more steps: a steadier count

Needs valgrind (``apt-get install valgrind``). Under callgrind a W1 step takes seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: Workload id -> (builder name in workloads.py, default steps N).
WORKLOADS = {"W1": ("w1_tinygrad", 2), "W3": ("w3_tinygrad", 100), "W5": ("w5_tinygrad", 10)}


def _trainer(workload: str) -> Callable[[int], Any]:
    sys.path.insert(0, str(HERE))
    import workloads

    return getattr(workloads, WORKLOADS[workload][0])()


def instructions(workload: str, steps: int) -> int:
    """The instructions callgrind counts for a fresh process that builds ``workload`` and
    trains it ``steps`` steps (one warm-up step first)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--child", workload, str(steps)],
        env=env, capture_output=True, text=True, check=False)
    found = re.findall(r"Collected\s*:\s*(\d+)", run.stderr)
    if run.returncode != 0 or not found:
        raise RuntimeError(f"callgrind failed on {workload} ({steps} steps):\n{run.stderr[-2000:]}")
    return int(found[-1])


def per_step(workload: str, steps: int) -> float:
    """One step's instructions: (count of 2N steps - count of N steps) / N."""
    return (instructions(workload, 2 * steps) - instructions(workload, steps)) / steps


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:  # inside callgrind: build, warm up, train
        train = _trainer(args[1])
        train(1)
        train(int(args[2]))
        return 0
    p = argparse.ArgumentParser(prog="python benchmarks/count.py", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("workloads", nargs="+", choices=sorted(WORKLOADS), metavar="WORKLOAD",
                   help=f"one of {', '.join(sorted(WORKLOADS))}")
    p.add_argument("--steps", type=int, default=None, metavar="N",
                   help="steps of the shorter run (default: W1 2, W3 100, W5 10)")
    ns = p.parse_args(args)
    if ns.steps is not None and ns.steps < 1:
        p.error(f"--steps must be a positive integer, got {ns.steps}")
    if shutil.which("valgrind") is None:
        p.error("valgrind is not installed (apt-get install valgrind)")
    for w in ns.workloads:
        n = ns.steps or WORKLOADS[w][1]
        print(f"{w}: {per_step(w, n) / 1e3:,.0f}k instructions per step ({n} and {2 * n} steps)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
