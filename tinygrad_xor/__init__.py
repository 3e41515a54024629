"""tinygrad_xor: a small, exact reverse-mode autodiff engine on NumPy, built to see backprop."""

from . import autograd
from .compiler import TraceError, jit
from .engine import Primitive, Value, enable_grad, is_grad_enabled, no_grad, primitive, walk
from .functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import concatenate, maximum, minimum, stack, where

__all__ = ["Value", "no_grad", "enable_grad", "is_grad_enabled", "primitive", "Primitive",
           "gradcheck", "gradgradcheck", "GradcheckError", "autograd", "grad", "value_and_grad",
           "jacobian", "hessian", "hvp", "jvp", "vjp", "where", "maximum", "minimum", "concatenate",
           "stack", "jit", "TraceError", "walk"]
__version__ = "0.1.0"
