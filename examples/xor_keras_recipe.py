"""The post's Keras run, redone: 2 ReLU hidden units, a linear output, MSE, SGD at lr 0.01.

Run: python examples/xor_keras_recipe.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)

Trains the `keras` recipe for a few seeds, prints each truth table's outputs, and saves the
first model's weights to OUT_DIR/keras_seed0.npz (no pickle).
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

from tinygrad_xor import losses
from tinygrad_xor.train import predict
from tinygrad_xor.xor import X, Y, solved
from tinygrad_xor.xor.recipes import get_recipe, train_recipe, truth_table


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe = get_recipe("keras")
    print(recipe.describe())
    for seed in range(4):
        model, history = train_recipe(recipe, seed=seed)
        out = predict(model(X)).ravel()
        print(f"seed {seed}: loss {history.loss[0]:.4f} -> {losses.mse(model(X), Y).item():.4f}"
              f"  outputs {np.round(out, 3).tolist()}  solved: {solved(out)}")
        if seed == 0:
            print(truth_table(model))
            path = out_dir / "keras_seed0.npz"
            model.save(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:  # give OUT_DIR to keep the files
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
