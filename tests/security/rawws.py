"""A websocket client on a raw socket that writes frames and never reads: the attacker of the
flood tests (a library client would read, and answer the server's pings)."""

from __future__ import annotations

import base64
import os
import socket
import time
from pathlib import Path

from websockets.frames import Frame, Opcode


def open_raw(port: int, token: str, rcvbuf: int = 4096) -> socket.socket:
    """A socket to the gateway with the websocket handshake done (token in the header) and a
    tiny receive buffer, so what the server writes piles up on its side."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.split(b"\r\n")[0].decode())
    return sock


def masked(text: bytes) -> bytes:
    """One client text frame (masked, as a client must send it)."""
    return Frame(Opcode.TEXT, text).serialize(mask=True, extensions=[])


def flood(sock: socket.socket, frame: bytes, limit: int, seconds: float) -> tuple[int, float]:
    """Write ``frame`` up to ``limit`` times within ``seconds``, never reading; the frames
    written and the seconds until the server dropped the connection (inf if it did not)."""
    chunk = frame * 500
    sock.settimeout(0.2)
    sent = 0
    started = time.monotonic()
    while sent < limit and time.monotonic() - started < seconds:
        try:
            sock.sendall(chunk)
        except TimeoutError:
            continue  # the server stopped reading for now: keep pushing
        except OSError:
            return sent, time.monotonic() - started
        sent += 500
    return sent, float("inf")


def rss_kib(pid: int) -> int:
    """The resident set of a process (VmRSS, KiB) from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS")
