"""Goodfellow et al.'s exact XOR weights: outputs 0 1 1 0, MSE exactly 0, gradients 0.

Run: python examples/xor_goodfellow.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)

Prints the hidden layer a(1) = ReLU(X W1 + b1), the output, the loss and its gradient (zero
at an exact solution), and saves the weights to OUT_DIR/goodfellow.npz.
"""

import sys
import tempfile
from pathlib import Path

from tinygrad_xor import losses
from tinygrad_xor.xor import X, Y, goodfellow_model


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model = goodfellow_model()
    linear1, relu, linear2 = model.layers
    z1 = linear1(X)
    a1 = relu(z1)
    out = linear2(a1)
    print("z(1) = X W1 + b1:", z1.data.tolist())
    print("a(1) = ReLU(z(1)):", a1.data.tolist())
    print("output:", out.data.ravel().tolist())
    loss = losses.mse(out, Y)
    loss.backward()
    print("MSE:", loss.item())
    for name, p in zip(model.state_dict(), model.parameters()):
        print(f"d MSE / d {name} = {p.grad.tolist()}")
    path = out_dir / "goodfellow.npz"
    model.save(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:  # give OUT_DIR to keep the files
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
