"""Non-finite values: the error the main loop's guard raises and an exact check of named tensors.

The main loop stops a run whose cost, gradient norm or parameters become NaN
or infinite (see :class:`blocks.main_loop.MainLoop`, ``stop_on_nonfinite``)
and :class:`~blocks.extensions.Checkpoint` never replaces a checkpoint with
non-finite parameters; both use :func:`nonfinite_names`. Importing this module
does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import torch

__all__ = ["NonFiniteError", "nonfinite_names"]


class NonFiniteError(FloatingPointError, ValueError):
    """Training produced a NaN or infinite cost, gradient or parameter.

    Raised by the main loop's non-finite guard (and, as a subclass, by the
    ``CheckNumerics`` extension of blocks-extensions).

    Examples
    --------
    >>> issubclass(NonFiniteError, FloatingPointError) and issubclass(NonFiniteError, ValueError)
    True
    """


def nonfinite_names(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors that hold a NaN or an infinity, in mapping order.

    One fused pass (the L2 norm of every tensor, one host synchronisation);
    only tensors whose norm is not finite are examined element-wise, so a
    finite tensor whose norm overflows is not reported. Integer and boolean
    tensors are always finite.

    Parameters
    ----------
    tensors : mapping
        Name -> tensor (parameters, buffers, gradients).

    Examples
    --------
    >>> import torch
    >>> nonfinite_names({"w": torch.tensor([1e30, 1e30]), "b": torch.tensor([0.0, float("nan")])})
    ['b']
    """
    import torch

    named = [
        (name, tensor.detach())
        for name, tensor in tensors.items()
        if tensor.is_floating_point() or tensor.is_complex()
        if tensor.numel()
    ]
    if not named:
        return []
    norms = torch._foreach_norm([tensor for _, tensor in named])
    suspects = torch.stack([norm.float() for norm in norms]).isfinite().logical_not_().nonzero().view(-1).tolist()
    return [named[i][0] for i in suspects if not bool(named[i][1].abs().amax().isfinite())]
