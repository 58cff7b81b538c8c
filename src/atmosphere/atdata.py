"""Hand this library's clients to atdata code that insists on atdata's own class.

atdata's ``Index`` (and its repository backend) refuse any client that is not
an instance of atdata's ``Atmosphere`` (``AtmosphereClient`` up to 0.3).
:func:`adapt` returns an object that passes that check while every member is
this library's::

    from atdata.index import Index
    from atmosphere import Atmosphere
    from atmosphere.atdata import adapt

    atmo = Atmosphere.login("alice.example.com", "app-password")
    index = Index(atmosphere=adapt(atmo))

atdata is imported only when :func:`adapt` is called; this library never
depends on it.
"""

from __future__ import annotations

import importlib
from typing import Any, NoReturn, TypeVar

from .errors import AtdataMissingError, InvalidArgumentError

__all__ = ["adapt"]

_C = TypeVar("_C")

_ADAPTED: dict[tuple[type, type], type] = {}
"""One adapted class per (our class, atdata's class)."""


class _NotOurs:
    """Stands in for a member only atdata's class has: looking it up fails.

    A non-data descriptor, so the instance's own attributes still win.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> NoReturn:
        raise AttributeError(
            f"{self.name!r} is a member of atdata's client that atmosphere does not provide"
        )


def _atdata_class() -> type:
    """atdata's client class: ``Atmosphere`` (0.7) or ``AtmosphereClient`` (up to 0.3)."""
    try:
        module = importlib.import_module("atdata.atmosphere.client")
    except ImportError as exc:
        raise AtdataMissingError(
            "atmosphere.atdata.adapt() needs the atdata package (Python >= 3.12):"
            " pip install atdata"
        ) from exc
    found = getattr(module, "Atmosphere", None) or getattr(module, "AtmosphereClient", None)
    if not isinstance(found, type):
        raise AtdataMissingError(
            "the installed atdata has neither atdata.atmosphere.client.Atmosphere"
            " nor AtmosphereClient"
        )
    return found


def _adapted_class(ours: type, theirs: type) -> type:
    key = (ours, theirs)
    cls = _ADAPTED.get(key)
    if cls is None:
        blocked: dict[str, Any] = {}
        for klass in theirs.__mro__[:-1]:  # all but object
            for name in vars(klass):
                dunder = name.startswith("__") and name.endswith("__")
                if not dunder and not hasattr(ours, name):
                    blocked[name] = _NotOurs(name)
        namespace: dict[str, Any] = {
            **blocked,
            "__doc__": f"atmosphere's {ours.__name__}, seen by atdata as its {theirs.__name__}.",
            "__module__": __name__,
        }
        cls = type(ours.__name__, (ours, theirs), namespace)
        _ADAPTED[key] = cls
    return cls


def adapt(client: _C) -> _C:
    """``client`` as an instance of atdata's client class, every member still ours.

    The result shares the client's state (session, HTTP connections): it is
    the same client seen through another class. Its class derives from the
    client's class first and atdata's second, so each member resolves to
    this library's; a member that only atdata's class has raises
    ``AttributeError`` instead of running atdata's code. Passing an adapted
    client again returns it unchanged.

    Args:
        client: an :class:`~atmosphere.Atmosphere` or
            :class:`~atmosphere.AtmosphereClient` (atdata is synchronous: the
            asyncio clients cannot be adapted).

    Raises:
        AtdataMissingError: atdata is not installed (an ``ImportError``).
        InvalidArgumentError: ``client`` is not one of this library's sync clients.
    """
    from ._sync.atdata import AtdataFace

    if not isinstance(client, AtdataFace):
        raise InvalidArgumentError(
            "adapt() takes an atmosphere.Atmosphere or atmosphere.AtmosphereClient,"
            f" got {type(client).__name__}"
        )
    theirs = _atdata_class()
    if isinstance(client, theirs):
        return client
    cls = _adapted_class(type(client), theirs)
    adapted: Any = object.__new__(cls)
    object.__setattr__(adapted, "__dict__", client.__dict__)
    return adapted  # type: ignore[no-any-return]
