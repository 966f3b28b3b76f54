"""``git clone`` and ``git push`` of the embedded CodeCommit repositories: git's own smart-HTTP server, in the embedded
AWS.

A repository's ``cloneUrlHttp`` is ``<embedded AWS>/git-codecommit.<region>.amazonaws.com/v1/repos/<name>``. Requests
under that path are handed to ``git http-backend`` (git's CGI program; no git protocol is written here) over the
repository's bare git directory (``git_store``). Around it, what CodeCommit does:

- **who**: HTTPS git needs credentials, as CodeCommit's does. The user name is an access key id (as the AWS CLI's
  ``aws codecommit credential-helper`` sends it to AWS's hosts, ``<key id>%<session token>`` for a role session; it
  answers nothing for other hosts, so locally the key goes in the clone URL); a role session's key makes the request
  that role's, any other key the account administrator's. The password is not checked (the
  embedded AWS accepts any secret, as for its API). No credentials: 401, and git asks for them.
- **may they**: ``codecommit:GitPull`` to fetch or clone, ``codecommit:GitPush`` to push, on the repository's ARN, as
  the caller (the embedded IAM decides; a denial is a 403 whose body says why).
- **what a push changes**: each branch a push creates, moves or deletes sends CodeCommit's "CodeCommit Repository
  State Change" event (``commits.reference_changed``), so the project's push rules start the pipelines; the first
  branch of an empty repository becomes its default branch.
"""

from __future__ import annotations

import base64
import logging
import re
import subprocess
from urllib.parse import unquote

from moto.core import DEFAULT_ACCOUNT_ID
from werkzeug.wsgi import get_input_stream

from smbundle.local.codecommit import commits, git_store
from smbundle.local.iam import enforcement, principals

log = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/git-codecommit\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/v1/repos/(?P<name>[^/]+)(?P<rest>/.*)$"
)
_SERVICES = {"git-upload-pack": "codecommit:GitPull", "git-receive-pack": "codecommit:GitPush"}


class GitSmartHttp:
    """WSGI middleware: git's smart HTTP for repository paths, everything else to the wrapped application."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return self.application(environ, start_response)
        try:
            status, headers, body = self.serve(
                environ, match["region"], unquote(match["name"]), match["rest"]
            )
        except Exception as exc:  # a fault here must still answer, as the service would
            log.exception("git request %s failed", environ.get("PATH_INFO"))
            status, headers, body = (
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                f"{exc}\n".encode(),
            )
        start_response(status, headers)
        return [body]

    def serve(self, environ, region: str, name: str, rest: str) -> tuple[str, list, bytes]:
        principal, denied = _caller(environ)
        if denied:
            return denied
        account = principal.account if principal else DEFAULT_ACCOUNT_ID
        repository = git_store.path(account, region, name)
        if not repository.is_dir():
            return _plain("404 Not Found", f"repository {name} does not exist in {region}\n")
        service = _service(environ, rest)
        if service is None:
            return _plain("403 Forbidden", "only git's smart HTTP protocol is served\n")
        arn = f"arn:aws:codecommit:{region}:{account}:{name}"
        if principal is not None:
            try:
                enforcement.authorize(principal, _SERVICES[service], arn, None, region)
            except enforcement.AccessDenied as denial:
                return _plain("403 Forbidden", f"{denial}\n")
        pushing = service == "git-receive-pack" and environ.get("REQUEST_METHOD") == "POST"
        before = git_store.branches(account, region, name) if pushing else {}
        answer = _backend(environ, repository, rest, principal)
        if pushing:
            _pushed(account, region, name, before, principal)
        return answer


def _plain(status: str, text: str) -> tuple[str, list, bytes]:
    return status, [("Content-Type", "text/plain")], text.encode()


def _caller(environ) -> tuple[principals.Principal | None, tuple | None]:
    """(the role session of the request's access key, or None for the administrator; a 401 when it has none)."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return None, (
            "401 Unauthorized",
            [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Basic realm="CodeCommit"')],
            b"credentials are required: an access key id as the user name (aws codecommit credential-helper)\n",
        )
    try:
        user = base64.b64decode(header[len("Basic ") :]).decode().partition(":")[0]
    except ValueError:
        user = ""
    key = user.partition("%")[0]
    return principals.for_access_key(DEFAULT_ACCOUNT_ID, key), None


def _service(environ, rest: str) -> str | None:
    if rest == "/info/refs":
        query = dict(p.partition("=")[::2] for p in environ.get("QUERY_STRING", "").split("&") if p)
        return query.get("service") if query.get("service") in _SERVICES else None
    service = rest.lstrip("/")
    return service if service in _SERVICES else None


def _backend(environ, repository, rest: str, principal) -> tuple[str, list, bytes]:
    """Run git http-backend as a CGI program for this request."""
    body = get_input_stream(environ).read() if environ.get("REQUEST_METHOD") == "POST" else b""
    cgi = {
        "GIT_PROJECT_ROOT": str(repository.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repository.name}{rest}",
        "REQUEST_METHOD": environ.get("REQUEST_METHOD", "GET"),
        "QUERY_STRING": environ.get("QUERY_STRING", ""),
        "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": principal.arn if principal else "admin",
        "REMOTE_ADDR": environ.get("REMOTE_ADDR", "127.0.0.1"),
    }
    if environ.get("HTTP_CONTENT_ENCODING"):
        cgi["HTTP_CONTENT_ENCODING"] = environ["HTTP_CONTENT_ENCODING"]
    if environ.get("HTTP_GIT_PROTOCOL"):
        cgi["GIT_PROTOCOL"] = environ["HTTP_GIT_PROTOCOL"]
    done = subprocess.run(
        ["git", "http-backend"], input=body, capture_output=True, env=git_store.environment(cgi), check=False
    )
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    if not payload and b"\n\n" in head:
        head, _, payload = done.stdout.partition(b"\n\n")
    status, headers = "200 OK", []
    for line in head.decode(errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = value.strip()
        elif name:
            headers.append((name.strip(), value.strip()))
    if done.returncode != 0 and not done.stdout:
        return _plain("500 Internal Server Error", done.stderr.decode(errors="replace"))
    return status, headers, payload


def _pushed(account: str, region: str, name: str, before: dict[str, str], principal) -> None:
    """The events of the branches a push changed, as the pusher."""
    after = git_store.branches(account, region, name)
    token = principals.caller.set(principal)
    try:
        for branch in sorted(set(before) | set(after)):
            commits.reference_changed(account, region, name, branch, before.get(branch), after.get(branch))
    finally:
        principals.caller.reset(token)
    if after and git_store.default_branch(account, region, name) is None:
        first = next(iter(sorted(set(after) - set(before))), None) or sorted(after)[0]
        git_store.git(git_store.path(account, region, name), "symbolic-ref", "HEAD", f"refs/heads/{first}")
