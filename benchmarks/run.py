"""Run the benchmark: tinygrad_xor against micrograd, PyTorch and hand-written NumPy.

Usage: python benchmarks/run.py [--quick] [--repeat N] [--workloads W1,W3] [--no-memory]
[--threads N] [--system-malloc] (the same as `tinygrad-xor bench`). `make bench` installs the
`bench` extra first.
"""

import sys

from tinygrad_xor.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
