"""The runtime parts of ``typing`` that pysops uses, without importing ``typing``.

Importing ``typing`` (with ``re``, ``enum`` and ``contextlib``, which it imports) takes about 10 ms,
a third of the time sops needs to decrypt a small file. The modules on the decrypt and encrypt
paths therefore write::

    from pysops._typing import TYPE_CHECKING, NamedTuple, Protocol

    if TYPE_CHECKING:
        from typing import Any  # names used in annotations only

mypy sees typing's own ``NamedTuple`` and ``Protocol``. At run time ``NamedTuple`` builds the same
class from ``collections.namedtuple`` (fields from the class annotations, defaults from their
values, methods kept) and ``Protocol`` is a plain base class: pysops never checks ``isinstance``
against a protocol. Union aliases use ``X | Y``, which needs no import.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
    from typing import Protocol as Protocol
else:
    from collections import namedtuple

    class Protocol:
        """Run-time stand-in for ``typing.Protocol`` (structural types are checked by mypy only)."""

        __slots__ = ()

    class _NamedTupleMeta(type):
        def __new__(mcls, name, bases, namespace):
            if not bases:  # NamedTuple itself
                return super().__new__(mcls, name, bases, namespace)
            if "__annotations__" not in namespace and "__annotate__" in namespace:
                # Python 3.14's lazy annotations: the fields are not in the class body's namespace
                raise TypeError(f"{name}: NamedTuple classes need `from __future__ import annotations`")
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            if defaults and any(field not in namespace for field in fields[len(fields) - len(defaults) :]):
                raise TypeError(f"{name}: fields without a default cannot follow fields with one")
            base = namedtuple(name, fields, defaults=defaults, module=namespace.get("__module__"))
            body = {key: value for key, value in namespace.items() if key not in fields}
            body["__slots__"] = ()
            return type(name, (base,), body)

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Run-time stand-in for ``typing.NamedTuple``'s class syntax."""


__all__ = ["TYPE_CHECKING", "NamedTuple", "Protocol"]
