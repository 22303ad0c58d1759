"""The registry: ``names()`` and ``get(name)`` over the rows of ``_spec.SPECS``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Tuple

from . import _spec


@dataclass(frozen=True)
class Activation:
    """One activation: its canonical name, functions, parameters and backward inputs."""

    name: str
    forward: Callable
    backward: Callable
    params: Dict[str, _spec.Default]   # a default, or None for a required parameter
    backward_takes: FrozenSet[str]
    aliases: Tuple[str, ...]
    formula: str
    derivative: str
    summary: str
    fused: Tuple[str, ...] = ()   # fused keywords (docs/api.md "Fused forms"), not in params

    def __reduce__(self):
        # by reference: unpickling (e.g. in a Dask worker) gives that process's entry
        return get, (self.name,)


_ENTRIES: Dict[str, Activation] = {}
_ALIASES: Dict[str, str] = {}


def register(spec: _spec.Spec, forward: Callable, backward: Callable) -> Activation:
    entry = Activation(spec.name, forward, backward, dict(spec.params),
                       frozenset(spec.backward_takes), spec.aliases, spec.formula,
                       spec.derivative, spec.summary, spec.fused)
    _ENTRIES[spec.name] = entry
    for alias in spec.aliases:
        _ALIASES[alias] = spec.name
    return entry


def names() -> Tuple[str, ...]:
    """The canonical names of every activation, in table order (aliases excluded)."""
    return tuple(_ENTRIES)


def get(name: str) -> Activation:
    """The registry entry of ``name`` (a canonical name or an alias such as "silu")."""
    key = _ALIASES.get(name, name)
    try:
        return _ENTRIES[key]
    except (KeyError, TypeError):
        known = ", ".join(sorted(list(_ENTRIES) + list(_ALIASES)))
        raise KeyError(f"unknown activation {name!r}; known: {known}") from None
