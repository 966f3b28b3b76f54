"""The embedded AWS: moto plus our extensions.

Layout follows moto's: one sub-package per AWS service we extend (``smbundle/local/<service>/``).
Any module inside such a package that defines a module-level ``apply()`` is an extension; ``apply()``
must be idempotent. :func:`apply_extensions` imports and applies them all, so adding an extension
never means editing a central list.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

log = logging.getLogger(__name__)

_applied = False


def extension_modules() -> list[str]:
    """Names of the modules under smbundle.local.<service> packages, sorted for a stable order."""
    names = []
    for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        if not info.ispkg:
            continue
        package = importlib.import_module(info.name)
        names.append(info.name)
        for sub in pkgutil.iter_modules(package.__path__, prefix=f"{info.name}."):
            names.append(sub.name)
    return sorted(names)


def apply_extensions() -> None:
    """Patch moto in this process with every extension (safe to call many times)."""
    global _applied
    if _applied:
        return
    # moto makes a botocore session per backend it creates (to list the service's Regions), the publisher and the
    # SageMaker SDK theirs: importing boto_sessions makes them all read the service models once in this process.
    from smbundle.local import boto_sessions  # noqa: F401

    _cache_action_lookup()
    for name in extension_modules():
        module = importlib.import_module(name)
        apply = getattr(module, "apply", None)
        if callable(apply):
            log.debug("applying %s", name)
            apply()
    _applied = True


def _cache_action_lookup() -> None:
    """moto finds a request's handler by listing its response class's methods with ``inspect.getmembers``, once per
    request (a tenth of a lifecycle's request handling). The names are the same until a method is added or removed
    (our extensions add some), so they are kept per class and the number of attributes along its MRO."""
    import moto.core.responses
    import moto.core.utils

    listing = moto.core.utils.method_names_from_class
    kept: dict[tuple, list[str]] = {}

    def method_names_from_class(clazz) -> list[str]:
        key = (clazz, sum(len(vars(base)) for base in clazz.__mro__))
        names = kept.get(key)
        if names is None:
            names = kept[key] = listing(clazz)
        return list(names)

    moto.core.responses.method_names_from_class = method_names_from_class
