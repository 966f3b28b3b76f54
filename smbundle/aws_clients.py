"""The tooling's boto3 sessions and clients (publishing, rollouts), made once per process.

A boto3 session and each of its clients take milliseconds to make (the session registers its handlers; a client
copies them, builds its methods and an SSL context): tens of milliseconds per publish, where a client makes a
handful of calls. A process that publishes or rolls out more than once (run_local.py, the test suite) reuses them:
one session per profile, Region and credentials environment (the ``AWS_*`` variables and ``HOME``, where the
shared config and credentials files are), one client per session, service and endpoint. boto3 clients may be used
from several threads.
"""

from __future__ import annotations

import os
import threading
import weakref

_lock = threading.Lock()  # a boto3 session makes one client at a time
_sessions: dict[tuple, object] = {}
_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def credentials_environment() -> tuple:
    """What a session's credentials and configuration are read from: the ``AWS_*`` variables and ``HOME``."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_") or k == "HOME"))


def session(profile: str | None, region: str | None):
    """A boto3 session for this profile and Region (read as boto3 reads them: AWS_PROFILE, AWS_REGION, the files)."""
    import boto3  # imported when needed (0.1 s): the scripts answer a usage error at once

    key = (profile, region, credentials_environment())
    with _lock:
        if key not in _sessions:
            _sessions[key] = boto3.session.Session(profile_name=profile, region_name=region)
        return _sessions[key]


def client_with_retries(session, service: str, endpoint_url: str | None):
    """The session's client for this service and endpoint, with the standard retry mode (throttles and transient
    errors retried with backoff)."""
    from botocore.config import Config

    with _lock:
        clients = _clients.setdefault(session, {})
        if (service, endpoint_url) not in clients:
            clients[service, endpoint_url] = session.client(
                service, endpoint_url=endpoint_url, config=Config(retries={"mode": "standard"})
            )
        return clients[service, endpoint_url]
