"""moto's server answers CodeConnections: its hosts lead to this package's backend.

moto's dispatcher finds a request's backend by matching the host it infers (``<signing name>.<region>.amazonaws.com``)
against ``moto.backend_index.backend_url_patterns``, then builds that backend's Flask app from
``moto.backends.get_backend(name)``; neither knows CodeConnections, so its requests reached the unserved app
(``moto_server.py``). :func:`apply` adds both of the service's hosts to the patterns and lets ``get_backend`` answer
this package's backend for its name. From there a request goes the way of moto's own services: the response class
(``responses.py``), IAM's check of every request (``iam/enforcement.py``), errors in the protocol's shape.
"""

from __future__ import annotations

import re

import moto.backend_index as backend_index
import moto.backends as backends

from smbundle.local.codeconnections.models import codeconnections_backends
from smbundle.local.codeconnections.urls import url_bases

NAME = "codeconnections"


def _get_backend(original):
    def get_backend(name):
        if name == NAME:
            return codeconnections_backends
        return original(name)

    get_backend.embedded = True
    return get_backend


def apply() -> None:
    patterns = backend_index.backend_url_patterns  # the dispatcher holds this very list
    if not any(name == NAME for name, _ in patterns):
        patterns.extend((NAME, re.compile(base)) for base in url_bases)
    if not getattr(backends.get_backend, "embedded", False):
        backends.get_backend = _get_backend(backends.get_backend)
