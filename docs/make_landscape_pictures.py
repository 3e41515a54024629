"""Regenerate the pictures and numbers of docs/why-xor-stalls.md.

Run: python docs/make_landscape_pictures.py [OUT_DIR]   (default: docs/images next to this script)

For each recipe it runs exactly `tinygrad-xor landscape --recipe NAME --seeds 10000 --plot
OUT_DIR/landscape_NAME.png` and prints the report the page quotes, and how long each took.
The three take about 8 minutes of CPU time, most of it blog's (50,000 steps of 10,000
networks, then the way-out runs); 21 minutes on a busy two-core machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tinygrad_xor.cli import main

RECIPES = ("blog", "sigmoid-momentum", "keras")


def make(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in RECIPES:
        argv = ["landscape", "--recipe", name, "--seeds", "10000",
                "--plot", str(out / f"landscape_{name.replace('-', '_')}.png")]
        print("$ tinygrad-xor " + " ".join(argv), flush=True)
        start = time.perf_counter()
        main(argv)
        print(f"({time.perf_counter() - start:.0f} s in all)\n", flush=True)


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "images")
