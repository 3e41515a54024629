"""Train XOR with fit(): 8 tanh hidden units, sigmoid output, cross-entropy, Adam.

Run: python examples/xor_train_adam.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)

Trains with a progress bar (tqdm if installed), prints the loss history and truth table,
saves the weights to OUT_DIR/xor_adam.npz and loads them into a scalar (neuron-level) copy of
the network, which gives the same outputs.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

from tinygrad_xor import nn, optim
from tinygrad_xor.train import fit, predict
from tinygrad_xor.xor import X, Y


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model = nn.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", rng=0)
    history = fit(model, X, Y, loss="bce", optimizer=optim.Adam(model.parameters(), lr=0.05),
                  epochs=300)
    for epoch in (0, 49, 99, 199, 299):
        print(f"epoch {epoch + 1:3d}: loss {history.loss[epoch]:.5f}  "
              f"accuracy {history.accuracy[epoch]:.2f}")
    out = model(X).data.ravel()
    for x, t, o in zip(X, Y.ravel(), out):
        print(f"{x.astype(int).tolist()} -> {o:.4f} (target {t:.0f})")

    path = out_dir / "xor_adam.npz"
    model.save(path)
    scalar = nn.MLP([2, 8, 1], activation="tanh", output_activation="sigmoid", scalar=True,
                    rng=1)
    scalar.load(path)
    diff = np.max(np.abs(predict(scalar(X)) - out))
    print(f"wrote {path}; the scalar network loaded from it differs by {diff:.1e}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:  # give OUT_DIR to keep the files
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
