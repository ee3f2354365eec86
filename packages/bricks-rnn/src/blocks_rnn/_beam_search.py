"""BeamSearch over the outputs of a sequence generator's ``generate`` (Blocks' ``blocks.search.BeamSearch``)."""

from __future__ import annotations

import operator
from typing import Any, Mapping

import torch
import torch.fx as fx
from torch import Tensor

from blocks.graph import ComputationGraph, Variable
from blocks_rnn._search_core import result_to_lists, run_beam_search

__all__ = ["BeamSearch"]


class BeamSearch:
    """Approximate search for the most probable output sequences of a sequence generator.

    Works with and without attention (blocks#769): the contexts of the ``generate`` call (e.g. the encoded
    source sentence and its mask) are computed by a compiled graph from the input values; the steps then run
    eagerly on the generator's bricks (the attended sequence is preprocessed once).

    Parameters
    ----------
    samples : Variable or BaseSequenceGenerator
        The ``outputs`` of a symbolic call ``generator.generate(...)``; or, for a generator without contexts
        (no attention, nothing symbolic to compute), the generator itself.

    Notes
    -----
    As in Blocks, the inputs are duplicated to the beam size by the user (the batch size of the contexts is
    the beam size; without contexts give ``beam_size`` to :meth:`search`). Costs are negative
    log-likelihoods; the emitter must have ``probs`` (``SoftmaxEmitter``).

    Examples
    --------
    >>> import torch
    >>> from blocks.bricks import Tanh
    >>> from blocks.initialization import IsotropicGaussian, Constant
    >>> from blocks_rnn import SimpleRecurrent, Readout, SoftmaxEmitter, LookupFeedback, SequenceGenerator
    >>> readout = Readout(readout_dim=4, source_names=["states", "feedback"], emitter=SoftmaxEmitter(),
    ...                   feedback_brick=LookupFeedback(4, 3))
    >>> generator = SequenceGenerator(readout, SimpleRecurrent(dim=3, activation=Tanh()),
    ...                               weights_init=IsotropicGaussian(0.5), biases_init=Constant(0))
    >>> search = BeamSearch(generator)
    >>> outputs, costs = search.search({}, eol_symbol=0, max_length=5, beam_size=3)
    >>> len(outputs), costs == sorted(costs)
    (3, True)
    """

    def __init__(self, samples: Any) -> None:
        self.context_names: list[str] = []
        self.context_variables: list[Variable] = []
        self.default_beam_size: int | None = None
        self._contexts_function: Any = None
        self.compiled = False
        if not isinstance(samples, Variable) and hasattr(samples, "search_log_probs"):
            # a generator without contexts: nothing symbolic to compute
            if samples._context_names and any(n != getattr(samples.transition, "preprocessed_attended_name", None)
                                              for n in samples._context_names):
                raise ValueError(f"generator {samples.name} has contexts {samples._context_names}: build the "
                                 "BeamSearch from the symbolic outputs of its generate(...) call instead")
            self.generator = samples
            return
        if not isinstance(samples, Variable):
            raise ValueError("BeamSearch takes the symbolic `outputs` of generator.generate(...) (or a sequence "
                             f"generator without contexts), got {type(samples).__name__}")
        call = samples.meta.get("application_call")
        generator = getattr(call, "brick", None)
        if call is None or not hasattr(generator, "search_log_probs") or call.application.name != "generate":
            raise ValueError("BeamSearch takes the `outputs` of a sequence generator's generate(...) call on "
                             "symbolic inputs (e.g. generator.generate(n_steps=..., batch_size=..., "
                             "attended=..., attended_mask=..., as_dict=True)['outputs'])")
        self.generator = generator
        node: fx.Node = call.metadata["node"]
        if node.target is operator.getitem:  # one output of the multi-output opaque node
            node = node.args[0]
        for name in generator._context_names:
            value = node.kwargs.get(name)
            if isinstance(value, fx.Node):
                self.context_names.append(name)
                self.context_variables.append(Variable(value))
        batch_size = node.kwargs.get("batch_size")
        self.default_beam_size = batch_size if isinstance(batch_size, int) else None

    def compile(self) -> None:
        """Compile the computation of the contexts from the input values."""
        if self.context_variables:
            self._contexts_function = ComputationGraph(self.context_variables).compile()
        self.compiled = True

    def compute_contexts(self, input_values: Mapping[str, Any]) -> dict[str, Tensor]:
        """The contexts of generation for a batch of input values (by input name or input variable)."""
        input_values = {key.name if isinstance(key, Variable) else key: value for key, value in input_values.items()}
        if not self.compiled:
            self.compile()
        if self._contexts_function is None:
            return {}
        return dict(zip(self.context_names, self._contexts_function(input_values)))

    def search(self, input_values: Mapping[str, Any], eol_symbol: int, max_length: int,
               ignore_first_eol: bool = False, as_arrays: bool = False,
               beam_size: int | None = None) -> Any:
        """Beam search.

        Parameters
        ----------
        input_values : mapping of str (or input variable, as in Blocks) to array
            The inputs of the contexts' graph, duplicated to the beam size along the batch axis.
        eol_symbol : int
            The end-of-sequence output.
        max_length : int
            The maximum number of outputs.
        ignore_first_eol : bool
            Do not end a hypothesis that emits ``eol_symbol`` first.
        as_arrays : bool
            Return ``(outputs, masks, costs)``, NumPy arrays ``(time, beam)`` as in Blocks, instead of lists.
        beam_size : int, optional
            Needed when the generator has no contexts (the batch size of the contexts otherwise).

        Returns
        -------
        tuple
            ``(outputs, costs)``: lists of output sequences (``eol_symbol`` included when emitted) and their
            total costs, cheapest first; or the arrays when ``as_arrays``.
        """
        generator = self.generator
        contexts = self.compute_contexts(input_values)
        if beam_size is None:
            if contexts:
                first = next(iter(contexts.values()))
                beam_size = first.shape[1] if first.dim() > 1 else first.shape[0]
            else:
                beam_size = self.default_beam_size
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int (needed without contexts), got {beam_size!r}")
        with torch.no_grad():
            contexts = generator.search_contexts(contexts)
            states = dict(generator.initial_states(beam_size, as_dict=True, **contexts))
            result = run_beam_search(states, lambda s: generator.search_log_probs(s, contexts),
                                     lambda s, o: generator.search_next_states(s, o, contexts),
                                     eol_symbol, max_length, ignore_first_eol)
        if as_arrays:  # NumPy arrays, as Blocks returned
            return tuple(array.cpu().numpy() for array in result)
        return result_to_lists(result)

    @staticmethod
    def result_to_lists(result: tuple[Any, Any, Any]) -> tuple[list[list[int]], list[float]]:
        """``(outputs, masks, costs)`` arrays (NumPy or torch) to lists of outputs and total costs."""
        return result_to_lists(tuple(torch.as_tensor(array) for array in result))
