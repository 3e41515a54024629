"""tinygrad_xor: a small, exact reverse-mode autodiff engine on NumPy, built to see backprop."""

from .engine import Primitive, Value, no_grad, primitive
from .gradcheck import GradcheckError, gradcheck

__all__ = ["Value", "no_grad", "primitive", "Primitive", "gradcheck", "GradcheckError"]
__version__ = "0.1.0"
