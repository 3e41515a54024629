"""Scalar basics: build a small expression from scalar Values, backpropagate, check it.

Run: python examples/scalar_basics.py [OUT_DIR]   (OUT_DIR is unused: nothing is written)
"""

import sys

from tinygrad_xor import Value, gradcheck


def main() -> None:
    _ = sys.argv[1:]  # this example writes no files
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b + b**2          # -6 + 9 = 3
    d = c.relu() / 2 + a.exp()
    d.backward()
    print(f"d = {d.data:.6f}")
    print(f"dd/da = {a.grad:.6f}  (by hand: b/2 + exp(a) = {-1.5 + 2.718281828459045**2:.6f})")
    print(f"dd/db = {b.grad:.6f}  (by hand: (a + 2b)/2 = {(2 - 6) / 2:.6f})")
    print(f"dd/dc = {c.grad:.6f}  (intermediate gradients are kept)")
    ok = gradcheck(lambda a, b: (a * b + b**2).relu() / 2 + a.exp(), a, b)
    print("gradcheck against central finite differences:", "passed" if ok else "failed")


if __name__ == "__main__":
    main()
