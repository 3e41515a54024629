"""A custom operation, checked: gradcheck at a point, then hypothesis in random graphs.

Defines `softplus` (log(1 + e^x)) as a primitive with its VJP, checks it with `gradcheck`, then
lets `tinygrad_xor.testing.expressions` put it into random graphs. A copy with a wrong VJP
(it forgets the sigmoid's `1 - out` factor) is then found and shrunk by hypothesis to the
smallest graph that shows the bug; its gradcheck report is written to OUT_DIR.

Run: python examples/custom_op_gradcheck.py [OUT_DIR]
(without OUT_DIR: a temporary directory, removed at the end)
The property-based part needs hypothesis: pip install 'tinygrad_xor[test]'.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tinygrad_xor import GradcheckError, Value, gradcheck, primitive


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


softplus = primitive(lambda x: np.logaddexp(0.0, x),
                     lambda grad, out, x: (grad * _sigmoid(x),), name="softplus")
softplus_wrong = primitive(lambda x: np.logaddexp(0.0, x),
                           lambda grad, out, x: (grad * np.exp(x),),  # d/dx is sigmoid, not e^x
                           name="softplus_wrong")


def main(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)

    x = Value(np.array([-2.0, 0.0, 1.5]), label="x")
    print("gradcheck(softplus) at", x.data.tolist(), "->", gradcheck(softplus, x))
    try:
        gradcheck(softplus_wrong, x)
    except GradcheckError as error:
        print("gradcheck(softplus_wrong) fails:", str(error).splitlines()[1].strip())

    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError as exc:
        print(f"skipping the property-based part: {exc}")
        return 0
    # hypothesis keeps a cache in ./.hypothesis: here a folder of its own, removed at the end
    with tempfile.TemporaryDirectory(prefix="hypothesis_") as home:
        set_hypothesis_home_dir(home)
        return property_based(out_dir)


def property_based(out_dir: Path) -> int:
    """softplus in random graphs, and the shrunk failure of softplus_wrong."""
    from hypothesis import find, given, settings

    from tinygrad_xor.testing import OPS, expressions

    @settings(max_examples=200, database=None, deadline=None)
    @given(expressions(ops=[*OPS, softplus], max_ops=6, max_side=2))  # every built-in one
    def softplus_in_graphs(expr: tuple) -> None:
        f, inputs = expr
        assert gradcheck(f, *inputs)

    softplus_in_graphs()
    print("softplus passed gradcheck in 200 random graphs")

    def fails(expr: tuple) -> bool:
        f, inputs = expr
        return not gradcheck(f, *inputs, raise_exception=False)

    f, inputs = find(expressions(ops=["add", "mul", "tanh", "sum", "matmul", softplus_wrong],
                                 max_side=2), fails, settings=settings(database=None))
    print("hypothesis shrank the softplus_wrong failure to:", f)
    print("  at", ", ".join(f"x{i} = {v.data}" for i, v in enumerate(inputs)))
    try:
        gradcheck(f, *inputs)
        return 1  # pragma: no cover - find() only returns failing examples
    except GradcheckError as error:
        report = out_dir / "softplus_wrong_report.txt"
        report.write_text(f"{f}\ninputs: {inputs}\n\n{error}\n")
        print("report written to", report)
    return 0


def run() -> int:
    """main() on OUT_DIR, or on a temporary directory removed at the end."""
    if len(sys.argv) > 1:
        return main(Path(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:  # give OUT_DIR to keep the files
        return main(Path(tmp))


if __name__ == "__main__":
    sys.exit(run())
