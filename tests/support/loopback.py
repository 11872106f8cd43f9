"""Serve an httpx-style handler (request -> response) on a loopback port.

CRM stand-ins are written once as `handler(httpx.Request) -> httpx.Response`: tests use them
in-process through httpx.MockTransport, and end-to-end tests and benchmarks serve the very same
handler here, so a real `coachbot sync` process talks to it over TCP.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


class LoopbackServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LoopbackServer:
        handler = self.handler

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                host = self.headers.get("Host", "127.0.0.1")
                request = httpx.Request(
                    self.command, f"http://{host}{self.path}", headers=dict(self.headers.items()), content=body
                )
                response = handler(request)
                content = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
