"""The names of the numerical-stability rewrites and how a setting selects them (torch-free).

:mod:`blocks.graph.rewrites` applies them to every graph when it is compiled
(Theano's stability optimizations, on the annotated torch.fx graph). This
module holds only what the configuration needs: the documented list and the
parser of a setting, so that ``import blocks.config`` stays free of torch.

A setting is ``"all"`` (the default), ``"none"``, a list of names
(``"log_softmax log1p"`` or ``["log_softmax", "log1p"]``), or ``"all"``
followed by names to leave out, each with a leading ``-``
(``"all -expm1"``). ``True``/``False`` mean all/none.

Examples
--------
>>> parse_rewrites("all -expm1 -log1p")
('log_softmax', 'categorical_crossentropy_softmax', 'binary_crossentropy_sigmoid', 'log_sigmoid', 'logsumexp')
>>> parse_rewrites("none"), parse_rewrites(["log1p"])
((), ('log1p',))
"""

from __future__ import annotations

from typing import Any

__all__ = ["REWRITES", "parse_rewrites"]

REWRITES: dict[str, str] = {
    "log_softmax": "log(softmax(x)) -> log_softmax(x)",
    "categorical_crossentropy_softmax": "CategoricalCrossEntropy of softmax(x) -> cross-entropy of the logits x",
    "binary_crossentropy_sigmoid": "BinaryCrossEntropy of sigmoid(x) -> binary_cross_entropy_with_logits(x)",
    "log_sigmoid": "log(sigmoid(x)) -> logsigmoid(x)",
    "log1p": "log(1 + x) -> log1p(x)",
    "expm1": "exp(x) - 1 -> expm1(x)",
    "logsumexp": "log(sum(exp(x))) -> logsumexp(x)",
}
"""Every stability rewrite by name (in the order they are tried), with what it replaces."""


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, (list, tuple)):
        words = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"rewrite names are strings, got {item!r}")
            words.extend(_words(item))
        return words
    raise ValueError(f"expected 'all', 'none', True/False or rewrite names, got {value!r}")


def parse_rewrites(value: Any) -> tuple[str, ...]:
    """The rewrites a setting selects, in the documented order.

    Parameters
    ----------
    value : bool, str or sequence of str
        See the module docstring.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or a malformed setting.
    """
    if value is True:
        return tuple(REWRITES)
    if value is False or value is None:
        return ()
    words = _words(value)
    if words == ["none"] or not words:
        return ()
    if words[0] == "all":
        removed = words[1:]
        bad = [w for w in removed if not w.startswith("-")]
        if bad:
            raise ValueError(f"after 'all' only names to leave out, each with a leading '-', may follow; got {bad}")
        removed = [w[1:] for w in removed]
        _check(removed)
        return tuple(name for name in REWRITES if name not in removed)
    _check(words)
    return tuple(name for name in REWRITES if name in words)


def _check(names: list[str]) -> None:
    unknown = [name for name in names if name not in REWRITES]
    if unknown:
        raise ValueError(f"unknown stability rewrite(s) {unknown}; valid names: {', '.join(REWRITES)} "
                         "(or 'all', 'none', 'all -name')")
