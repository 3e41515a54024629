"""The core: Values, their operations, and reverse mode. Read it bottom up:

- ``kernels``: the NumPy kernels of the operations (NumPy only);
- ``checks``: the checks of what users pass in, and how a bad input is shown;
- ``mode``: grad mode and trace mode, the two switches of a thread;
- ``value``: the Value, `_node` (the one constructor of results), `walk`, the constants;
- ``primitive``: `Primitive`, an operation as a forward beside its rule, and `primitive()`;
- ``ops``: the op table, each primitive's forward beside its vector-Jacobian product;
- ``operators``: the operations users call, attached to the Value as operators and methods;
- ``backward``: one backward pass, and ``Value.backward``;
- ``autograd``: ``autograd.grad``, gradients as return values, to any order;
- ``functional``: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``, ``hvp``, ``jvp``,
  ``vjp``: every argument a new variable.

Each module imports only those above it in this list (tests/test_layers.py checks it); the
package's front (``tinygrad_xor/__init__.py``) re-exports the public names. Nothing here
imports the library (``nn``, ``viz``, ``jit`` ...): ``viz`` attaches ``Value.draw`` itself.
"""
