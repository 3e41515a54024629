"""Run the benchmark: tinygrad_xor against micrograd, PyTorch and hand-written NumPy.

Usage: python benchmarks/run.py [--quick] [--repeat N] [--workloads W1,W3] [--no-memory]
[--threads N] [--system-malloc]. `make bench` installs the `bench` extra first. The benchmark
is a tool of the repository, not part of the installed package: run it from a checkout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its siblings, run as a script

import harness  # noqa: E402
from workloads import WORKLOADS  # noqa: E402


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _workloads(text: str) -> str:
    """An argparse type: comma-separated known workload ids (any case), else a usage error."""
    ids = [w.strip().upper() for w in text.split(",") if w.strip()]
    unknown = [w for w in ids if w not in WORKLOADS]
    if unknown or not ids:
        raise argparse.ArgumentTypeError(f"unknown workload {', '.join(unknown) or repr(text)}; "
                                         f"choose from: {', '.join(WORKLOADS)}")
    return ",".join(ids)


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    p = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Run the benchmark workloads against the reference tools that are "
                    "installed and print one table of median times and ratios.")
    p.add_argument("--quick", action="store_true",
                   help="smaller sizes and fewer steps: a run of about a minute")
    p.add_argument("--repeat", type=_positive_int, default=5, metavar="N",
                   help="timed rounds per workload (default: 5)")
    p.add_argument("--workloads", type=_workloads, default=None, metavar="W1,W2,...",
                   help="comma-separated workloads to run (default: all)")
    p.add_argument("--no-memory", action="store_true",
                   help="skip the 100,000-step XOR memory-growth check")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="threads for PyTorch and NumPy's BLAS, and the process pinned to N "
                        "CPUs (default: their own choice, all CPUs); 1 is fairer on a busy "
                        "machine")
    p.add_argument("--system-malloc", action="store_true",
                   help="leave glibc's malloc as it is (by default the benchmark makes it keep "
                        "freed memory, for every backend alike: see docs/performance.md)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the benchmark and print its table; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        harness.run(args.workloads.split(",") if args.workloads else None, quick=args.quick,
                    repeat=args.repeat, memory=not args.no_memory, threads=args.threads,
                    keep_memory=not args.system_malloc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
