"""moto's threaded server, with the listening socket bound in the caller's thread.

``moto.server.ThreadedMotoServer`` binds inside its thread: when the port is taken, werkzeug prints a message and
exits that thread, and ``start()`` waits forever for a server that never comes. Here the bind happens before the
thread starts, so a taken port (or one the user may not bind) raises ``OSError`` in the caller, at once.
"""

from __future__ import annotations

import contextlib
import errno
import io
from threading import Thread

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


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


class EmbeddedMotoServer(ThreadedMotoServer):
    def start(self) -> None:
        if not 0 <= self._port <= 65535:
            raise OSError(errno.EINVAL, f"port {self._port} is not between 0 and 65535")
        app = _Dispatcher(create_backend_app)
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
