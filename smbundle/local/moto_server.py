"""moto's threaded server, with the listening socket bound in the caller's thread, answering as AWS answers.

``moto.server.ThreadedMotoServer`` binds inside its thread: when the port is taken, werkzeug prints a message and
exits that thread, and ``start()`` waits forever for a server that never comes. Here the bind happens before the
thread starts, so a taken port (or one the user may not bind) raises ``OSError`` in the caller, at once.

No request is answered with an HTML page: an operation neither moto nor our extensions serve answers at once with
the protocol's "unknown operation" error (``UnknownOperationException`` for the JSON protocols, ``InvalidAction``
for the query protocol, HTTP 400: the SDKs do not retry it), and a fault of the server answers ``InternalFailure``
(HTTP 500) in the protocol's error body, with the fault logged. Git's smart HTTP for the CodeCommit repositories is
served beside the API (``codecommit/git_http.py``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
from threading import Thread
from xml.sax.saxutils import escape

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from smbundle.local.codecommit.git_http import GitSmartHttp


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host.

    moto finds the backend for every request again, under one lock shared by all requests: it lists its own package
    directory (a stat per service) and tries its URL patterns in turn. The answer for a host never changes, so it
    is looked up once (``get_application`` calls this under that lock).
    """

    def __init__(self, create_app) -> None:
        super().__init__(create_app)
        self._backend_for_host: dict = {}

    def get_backend_for_host(self, host):
        if host not in self._backend_for_host:
            self._backend_for_host[host] = super().get_backend_for_host(host)
        return self._backend_for_host[host]


log = logging.getLogger(__name__)
DOCS = "docs/local.md lists what the embedded AWS serves"


def _operation_and_protocol(request) -> tuple[str, str]:
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1], "json"
    if (request.content_type or "").startswith("application/x-www-form-urlencoded") or request.args.get(
        "Action"
    ):
        action = (
            request.args.get("Action") or request.form.get("Action") or f"{request.method} {request.path}"
        )
        return action, "query"
    if request.headers.get("smithy-protocol") == "rpc-v2-cbor":
        return request.path.rsplit("/", 1)[-1], "json"
    return f"{request.method} {request.path}", "rest"


def _error_response(request, status: int, code: str, message: str):
    from flask import Response

    _, protocol = _operation_and_protocol(request)
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>"
            "<RequestId>embedded</RequestId></ErrorResponse>"
        ).format("Sender" if status < 500 else "Receiver", code, escape(message))
        return Response(body, status=status, content_type="text/xml")
    headers = {"x-amzn-ErrorType": code}
    body = json.dumps({"__type": code, "message": message, "Message": message})
    return Response(body, status=status, headers=headers, content_type="application/x-amz-json-1.1")


def _fault(exc: Exception):
    """Every exception of a request, answered in the protocol's error shape (never an HTML page)."""
    from flask import request

    if isinstance(exc, HTTPException):
        return exc
    operation, _ = _operation_and_protocol(request)
    if isinstance(exc, NotImplementedError):
        log.info("unserved operation %s: %s", operation, exc)
        code = (
            "InvalidAction" if _operation_and_protocol(request)[1] == "query" else "UnknownOperationException"
        )
        return _error_response(request, 400, code, f"{operation} is not served by the embedded AWS ({DOCS})")
    log.exception("the embedded AWS failed on %s", operation)
    return _error_response(request, 500, "InternalFailure", f"the embedded AWS failed on {operation}: {exc}")


def _create_app(service):
    if (
        service is None
    ):  # a service neither moto nor our extensions serve: every request is an unknown operation
        from flask import Flask

        app = Flask("unserved")
        app.add_url_rule(
            "/", "unserved", _unserved, methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]
        )
        app.add_url_rule(
            "/<path:path>",
            "unserved_path",
            _unserved,
            methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"],
        )
        return app
    app = create_backend_app(service)
    app.register_error_handler(Exception, _fault)
    return app


def _unserved(path: str = ""):
    return _fault(NotImplementedError("no backend serves this service"))


# STS operations AWS serves without a signature (the caller proves itself with the token in the request).
_UNSIGNED_STS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}


class UnsignedApiCalls:
    """WSGI middleware for requests with no signature at all. moto picks a backend by the signature's credential
    scope and would hand such a request to S3; AWS knows the service from its endpoint. An unsigned call of a JSON
    protocol API (``X-Amz-Target``) or a query protocol API (a form POST with ``Action``) is answered here as AWS
    answers it (403 ``MissingAuthenticationToken``), except STS's web-identity and SAML calls, which AWS serves
    unsigned and which go on to STS. S3 requests go on: S3 answers anonymous requests by the bucket's settings."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        from smbundle.local.iam import enforcement

        query = environ.get("QUERY_STRING", "")
        signed = (
            environ.get("HTTP_AUTHORIZATION") or "X-Amz-Credential=" in query or "AWSAccessKeyId=" in query
        )
        if signed or not enforcement.is_enabled():
            return self.application(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET"):
            body = json.dumps(
                {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}
            )
            return self._answer(start_response, "application/x-amz-json-1.1", body.encode())
        if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get(
            "CONTENT_TYPE", ""
        ):
            from urllib.parse import parse_qs

            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(raw)
            action = (parse_qs(raw.decode("utf-8", "replace")).get("Action") or [""])[0]
            if action in _UNSIGNED_STS:  # route it to STS as an anonymous caller
                environ["HTTP_AUTHORIZATION"] = (
                    "AWS4-HMAC-SHA256 Credential=anonymous/20200101/us-east-1/sts/aws4_request, "
                    "SignedHeaders=host, Signature=none"
                )
                return self.application(environ, start_response)
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code>"
                "<Message>Request is missing Authentication Token</Message></Error>"
                "<RequestId>embedded</RequestId></ErrorResponse>"
            )
            return self._answer(start_response, "text/xml", body.encode())
        return self.application(environ, start_response)

    @staticmethod
    def _answer(start_response, content_type: str, body: bytes):
        start_response("403 Forbidden", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]


class EmbeddedMotoServer(ThreadedMotoServer):
    def start(self) -> None:
        if not 0 <= self._port <= 65535:
            raise OSError(errno.EINVAL, f"port {self._port} is not between 0 and 65535")
        app = UnsignedApiCalls(GitSmartHttp(_Dispatcher(_create_app)))
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said):  # werkzeug prints the reason, then exits
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
        except SystemExit:
            reason = (said.getvalue().strip().splitlines() or ["cannot listen"])[0]
            code = errno.EADDRINUSE if "in use" in reason.lower() else errno.EACCES
            raise OSError(code, reason) from None
        self._server_ready_event.set()
        # A short poll: stop() waits up to one poll interval for serve_forever to notice (0.5 s by default).
        self._thread = Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
