"""Import libyaml's C binding (``_ruamel_yaml`` from ``ruamel.yaml.clib``) without ruamel.yaml.

The YAML store only needs the binding's ``CParser`` (events with character marks). The binding
itself imports a dozen submodules of the pure-Python ``ruamel.yaml`` package at import time
(``ruamel.yaml.error``, ``.events``, ``.scanner``, ... for its event and error classes), and
importing any submodule first runs ``ruamel/yaml/__init__.py``, which imports the whole package
(``main``, ``cyaml``, ``loader``, ``dumper``, ...). On a small ``pysops decrypt`` that package
costs more than the rest of the YAML store.

``load()`` therefore imports the binding under a bare ``ruamel.yaml`` package module: a module
with the real ``__spec__``/``__path__``, so the submodules the binding names are found and
loaded as usual, but whose ``__init__`` has not run. That bare module completes itself the first
time an attribute it lacks is read (PEP 562 module ``__getattr__``): it runs the real
``ruamel/yaml/__init__.py`` in place. So code that imports ``ruamel.yaml`` later in the same
process (a library user, the tests) gets the complete package, with the very submodules (and
classes) the binding already uses.

The bare module is used only when neither ``ruamel.yaml`` nor the binding is imported yet, and
any surprise while setting it up falls back to a plain ``import _ruamel_yaml``.
"""

from __future__ import annotations

import _thread
import sys
from types import ModuleType

from pysops._typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

_PACKAGE = "ruamel.yaml"
#: set in the bare package's namespace until its real __init__ has run
_BARE_MARK = "__pysops_bare__"


#: two threads parsing YAML at once must not both set up a bare package
_LOCK = _thread.allocate_lock()


def load() -> ModuleType:
    """The ``_ruamel_yaml`` module, imported as cheaply as possible (see the module docstring)."""
    loaded = sys.modules.get("_ruamel_yaml")
    if loaded is not None:
        return loaded
    with _LOCK:
        return _load()


def _load() -> ModuleType:
    loaded = sys.modules.get("_ruamel_yaml")
    if loaded is not None:
        return loaded
    bare = _bare_package() if _PACKAGE not in sys.modules else None
    try:
        import _ruamel_yaml
    except BaseException:
        if bare is not None:
            _forget(bare)  # a later import starts from scratch
        raise
    binding: ModuleType = _ruamel_yaml
    return binding


def _bare_package() -> ModuleType | None:
    """Register a not-yet-initialised ``ruamel.yaml`` package module; None if it cannot be made."""
    try:
        import ruamel  # a namespace package: nothing runs
    except ImportError:
        return None
    spec = None
    for finder in sys.meta_path:  # what importlib.util.find_spec does, without importing it
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(_PACKAGE, getattr(ruamel, "__path__", None))
        if spec is not None:
            break
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return None
    if not hasattr(spec.loader, "exec_module"):
        return None
    module = ModuleType(_PACKAGE)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__package__ = _PACKAGE
    module.__path__ = list(spec.submodule_search_locations)
    if spec.has_location and spec.origin is not None:
        module.__file__ = spec.origin
    loader = spec.loader
    completing = _thread.allocate_lock()

    def complete(name: str) -> Any:
        # The first attribute the bare package lacks (YAML, version_info, ...): run the real
        # __init__ in this module object, once; its submodule imports find the loaded ones.
        namespace = module.__dict__
        with completing:
            if namespace.pop(_BARE_MARK, False):
                del namespace["__getattr__"]
                loader.exec_module(module)
        try:
            return namespace[name]
        except KeyError:
            raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}") from None

    module.__dict__["__getattr__"] = complete
    module.__dict__[_BARE_MARK] = True
    sys.modules[_PACKAGE] = module
    ruamel.__dict__["yaml"] = module  # what the import system does for a loaded submodule
    return module


def _forget(bare: ModuleType) -> None:
    """Undo ``_bare_package``: drop the bare package and the submodules loaded under it."""
    if sys.modules.get(_PACKAGE) is bare:
        for name in [n for n in sys.modules if n == _PACKAGE or n.startswith(_PACKAGE + ".")]:
            del sys.modules[name]
    ruamel = sys.modules.get("ruamel")
    if ruamel is not None and getattr(ruamel, "__dict__", {}).get("yaml") is bare:
        del ruamel.__dict__["yaml"]


def is_bare(module: ModuleType) -> bool:
    """Whether a ``ruamel.yaml`` module is still the bare package of ``load()`` (for tests)."""
    return _BARE_MARK in module.__dict__
