"""``python -m harness.otlp_sink PORT``: an OTLP/HTTP trace receiver that accepts and drops.

A run of ours with tracing on (``BENCH_OURS_TRACING``) exports its sampled spans here, so the
services pay the whole cost of exporting (batching, protobuf encoding, the HTTP call) and
nothing is stored. ``GET /readyz`` answers how many exports and bytes arrived; the same line
is logged when the sink stops.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_received = {"exports": 0, "bytes": 0}
_lock = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with _lock:
            _received["exports"] += 1
            _received["bytes"] += len(body)
        # An empty ExportTraceServiceResponse: zero bytes of protobuf.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_received).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # one line per export would be the only thing in the log


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m harness.otlp_sink PORT", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", int(argv[0])), Sink)
    server.daemon_threads = True

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    print(f"otlp sink: {json.dumps(_received)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
