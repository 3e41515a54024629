"""``tinygrad_xor.autograd``, the public path of `tinygrad_xor.core.autograd`: ``autograd.grad``,
gradients as return values, to any order (as ``torch.autograd.grad``)."""

from .core.autograd import grad

__all__ = ["grad"]
