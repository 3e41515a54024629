"""Many seeds at once: the fraction of networks that solve XOR, for every recipe.

Run: python examples/seed_sweep.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)

Trains 200 seeds of each recipe as one batched graph per recipe and prints the success
rates; with matplotlib installed, writes OUT_DIR/sweep_<recipe>.png (final-loss histogram and
loss curves). `tinygrad-xor sweep --recipe NAME --seeds 10000` does the same at full size.
"""

import sys
import tempfile
from pathlib import Path

from tinygrad_xor.xor.recipes import RECIPES
from tinygrad_xor.xor.sweep import plot_sweep, run_sweep


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib  # noqa: F401
        can_plot = True
    except ImportError:
        can_plot = False
        print("matplotlib is not installed: no plots (pip install 'tinygrad_xor[plot]')")
    for name in RECIPES:
        result = run_sweep(name, 200)
        print(f"{name:18s} {result.steps:5d} steps: {result.success_rate:7.2%} of 200 seeds "
              f"solve XOR ({result.seconds:.2f} s)")
        if can_plot and name in ("keras", "sigmoid-momentum"):
            print("  wrote", plot_sweep(result, str(out_dir / f"sweep_{name}.png")))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:  # give OUT_DIR to keep the files
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
