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

    for name in extension_modules():
        module = importlib.import_module(name)
        apply = getattr(module, "apply", None)
        if callable(apply):
            log.debug("applying %s", name)
            apply()
    _applied = True
