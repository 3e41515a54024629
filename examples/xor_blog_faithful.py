"""The blog's own algorithm, run as the post runs it, next to the corrected one.

Run: python examples/xor_blog_faithful.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)

Prints the post's MSE every 10 iterations (faithful=True, quirks included) beside the
corrected algorithm's (faithful=False), shows W[2] turning into a 2x2 matrix after the first
iteration, and writes both loss curves to OUT_DIR/blog_losses.csv.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

from tinygrad_xor.xor import blog


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    W0, b0 = blog.init_params([2, 2, 1], 0)        # the post's init: uniform [0, 1)
    print(f"initial W[2] {W0[2].shape}: {np.round(W0[2], 4).tolist()}")

    W, b = W0, b0
    faithful, corrected = [], []
    Wc, bc = W0, b0
    for iteration in range(101):                   # the post's range(n_iter + 1)
        W, b, _, mse = blog.backprop_iter(blog.X, blog.y, W, b, 0.1)
        Wc, bc, _, mse_c = blog.backprop_iter(blog.X, blog.y, Wc, bc, 0.1, faithful=False)
        faithful.append(mse)
        corrected.append(mse_c)
        if iteration == 0:
            print(f"after iteration 0, W[2] has shape {W[2].shape} (faithful) and "
                  f"{Wc[2].shape} (corrected)")
        if iteration % 10 == 0:
            print(f"Iteration {iteration:3d}: faithful {mse:.6f}   corrected {mse_c:.6f}")

    _, _, pred, _ = blog.backprop_iter(blog.X, blog.y, W, b, 0.1)
    print("faithful predictions after 101 iterations:", np.round(pred, 3).tolist())
    path = out_dir / "blog_losses.csv"
    rows = ["iteration,faithful_mse,corrected_mse"]
    rows += [f"{i},{f!r},{c!r}" for i, (f, c) in enumerate(zip(faithful, corrected))]
    path.write_text("\n".join(rows) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:  # give OUT_DIR to keep the files
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
