"""tinygrad_xor: a small, exact reverse-mode autodiff engine on NumPy, built to see backprop."""

from . import autograd, viz  # noqa: F401  (viz attaches Value.draw)
from .compiler import jit
from .core.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .core.mode import TraceError, enable_grad, is_grad_enabled, no_grad
from .core.operators import concatenate, maximum, minimum, stack, where
from .core.primitive import Primitive, primitive
from .core.value import Value, walk
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["Value", "no_grad", "enable_grad", "is_grad_enabled", "primitive", "Primitive",
           "gradcheck", "gradgradcheck", "GradcheckError", "autograd", "grad", "value_and_grad",
           "jacobian", "hessian", "hvp", "jvp", "vjp", "where", "maximum", "minimum", "concatenate",
           "stack", "jit", "TraceError", "walk"]
__version__ = "0.1.0"
