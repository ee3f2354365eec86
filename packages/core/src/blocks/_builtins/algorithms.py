"""Core's built-in step rules: ``scale``, ``composite`` and the ``torch_optim`` adapter."""

from __future__ import annotations

from blocks.hookspecs import hookimpl


@hookimpl
def register_step_rules(register) -> None:
    register("scale", "blocks.algorithms.step_rules:Scale")
    register("composite", "blocks.algorithms.step_rules:CompositeRule")
    register("torch_optim", "blocks.algorithms.torch_optim:TorchOptim")
