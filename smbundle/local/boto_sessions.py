"""boto3 sessions for the embedded AWS's own callers, sharing one loader of the service models.

The local executors make a session per role they act as (a pipeline run, each build, each event target). A new boto3
session reads and parses the JSON service models of every client it creates again (S3's alone takes about 0.4 s),
which made up most of a pipeline action's local overhead. The models never change, so all these sessions share one
botocore loader (its cache is per loader); credentials, Region and configuration stay per session.

Importing this module makes every later botocore session of the process share that loader: import it before moto,
whose EC2 models make three sessions at import to list Regions (0.25 s of parsing the endpoints data in all).
"""

from __future__ import annotations

import sys
import threading

import boto3
import botocore.loaders
import botocore.session

from smbundle.aws_clients import credentials_environment


class _UniquePaths(list):
    """The loader's search paths: boto3 appends its own data path for every session it is given."""

    def append(self, path) -> None:
        if path not in self:
            super().append(path)


_LOADER = botocore.loaders.create_loader()
_LOADER._search_paths = _UniquePaths(_LOADER.search_paths)


def session(region_name: str | None = None, **credentials) -> boto3.session.Session:
    """A new boto3 session (``credentials``: aws_access_key_id, aws_secret_access_key, aws_session_token)."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, region_name=region_name, **credentials)


_shared: dict[str | None, boto3.session.Session] = {}
_shared_lock = threading.Lock()


def client(service: str, region_name: str | None, endpoint_url: str | None, config=None, **credentials):
    """A client with these credentials, made by one session per Region: a role session's calls need its own
    credentials, not a session of its own (making one takes longer than the client)."""
    with _shared_lock:  # a boto3 session makes one client at a time
        if region_name not in _shared:
            _shared[region_name] = session(region_name)
        return _shared[region_name].client(service, endpoint_url=endpoint_url, config=config, **credentials)


_admin: dict[tuple, object] = {}


def admin_client(service: str, region_name: str | None, endpoint_url: str | None):
    """A client with this process's own credentials (the embedded AWS's executors acting as the account, before they
    assume a role): one per service, Region, endpoint and credentials environment, made once and shared (botocore
    clients may be used from several threads; an executor used to make two to four per pipeline run and job)."""
    key = (service, region_name, endpoint_url, credentials_environment())
    with _shared_lock:
        if key not in _admin:
            _admin[key] = session(region_name).client(service, endpoint_url=endpoint_url)
        return _admin[key]


def share_loader_with_every_session() -> None:
    """Every botocore loader this process creates from now on is the shared one.

    Called when this module is imported: moto makes sessions at import and per backend it creates, and reads the
    models of the services it answers with a loader of its own; the local run's own callers make sessions, and
    boto3's default session is new in every test. Sessions given their own ``data_path`` keep their own loader.
    Idempotent.
    """
    if getattr(botocore.loaders.create_loader, "shared", False):
        return
    original = botocore.loaders.create_loader

    def create_loader(search_path_string=None):
        return _LOADER if not search_path_string else original(search_path_string)

    create_loader.shared = True
    botocore.loaders.create_loader = create_loader
    botocore.session.create_loader = create_loader
    moto_utils = sys.modules.get("moto.core.utils")  # imported by name there; later imports get this one
    if moto_utils is not None:
        moto_utils.create_loader = create_loader


share_loader_with_every_session()
