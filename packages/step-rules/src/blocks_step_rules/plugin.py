"""Hook implementations of blocks-step-rules (entry point ``blocks-step-rules`` in group ``blocks``).

This module must stay cheap to import: objects are registered as lazy
``"module:attribute"`` strings.
"""

from __future__ import annotations

from blocks import hookimpl

__all__ = ["RULES", "register_step_rules"]

RULES = {
    "basic_momentum": "blocks_step_rules.momentum:BasicMomentum",
    "momentum": "blocks_step_rules.momentum:Momentum",
    "basic_nesterov_momentum": "blocks_step_rules.momentum:BasicNesterovMomentum",
    "nesterov_momentum": "blocks_step_rules.momentum:NesterovMomentum",
    "adadelta": "blocks_step_rules.adadelta:AdaDelta",
    "basic_rmsprop": "blocks_step_rules.rmsprop:BasicRMSProp",
    "rmsprop": "blocks_step_rules.rmsprop:RMSProp",
    "adagrad": "blocks_step_rules.adagrad:AdaGrad",
    "adam": "blocks_step_rules.adam:Adam",
    "step_clipping": "blocks_step_rules.clipping:StepClipping",
    "variable_clipping": "blocks_step_rules.clipping:VariableClipping",
    "remove_not_finite": "blocks_step_rules.not_finite:RemoveNotFinite",
    "restrict": "blocks_step_rules.restrict:Restrict",
    "decoupled_weight_decay": "blocks_step_rules.weight_decay:DecoupledWeightDecay",
    "gradient_accumulation": "blocks_step_rules.accumulation:GradientAccumulation",
}
"""Registry name -> lazy ``"module:attribute"`` of every rule this plugin ships."""


@hookimpl
def register_step_rules(register) -> None:
    for name, target in RULES.items():
        register(name, target)
