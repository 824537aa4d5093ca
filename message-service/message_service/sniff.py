"""What a file is, from its first bytes (magic numbers), never from what the client says.

A handful of types is all a chat needs to tell apart: the images shown inline, the documents
and media people share, and the executables refused outright. Anything else is kept as
``application/octet-stream`` and only ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

# Enough to recognise every type below and to judge whether a file is text.
HEAD = 4096


@dataclass(frozen=True, slots=True)
class Sniffed:
    content_type: str
    image: bool = False  # decoded, measured, thumbnailed and shown inline
    allowed: bool = True


PNG = Sniffed("image/png", image=True)
JPEG = Sniffed("image/jpeg", image=True)
GIF = Sniffed("image/gif", image=True)
WEBP = Sniffed("image/webp", image=True)
EXECUTABLE = Sniffed("application/x-executable", allowed=False)
UNKNOWN = Sniffed("application/octet-stream")

# (offset, magic, type); the first match wins.
_MAGIC: tuple[tuple[int, bytes, Sniffed], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", PNG),
    (0, b"\xff\xd8\xff", JPEG),
    (0, b"GIF87a", GIF),
    (0, b"GIF89a", GIF),
    (0, b"%PDF-", Sniffed("application/pdf")),
    (0, b"PK\x03\x04", Sniffed("application/zip")),
    (0, b"\x1f\x8b", Sniffed("application/gzip")),
    (0, b"OggS", Sniffed("audio/ogg")),
    (0, b"ID3", Sniffed("audio/mpeg")),
    (0, b"\x1a\x45\xdf\xa3", Sniffed("video/webm")),
    (4, b"ftyp", Sniffed("video/mp4")),
    # Programs are refused: a chat is no place to hand someone a binary to run.
    (0, b"\x7fELF", EXECUTABLE),
    (0, b"MZ", EXECUTABLE),
    (0, b"\xcf\xfa\xed\xfe", EXECUTABLE),
    (0, b"\xce\xfa\xed\xfe", EXECUTABLE),
    (0, b"\xca\xfe\xba\xbe", EXECUTABLE),
    (0, b"#!", Sniffed("text/x-script", allowed=False)),
)


def sniff(head: bytes) -> Sniffed:
    """The type of a file that starts with ``head`` (its first :data:`HEAD` bytes, or all)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio/wav")
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return _text(head)


def _text(head: bytes) -> Sniffed:
    if b"\x00" in head:
        return UNKNOWN
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        if exc.start < len(head) - 3:
            return UNKNOWN
        text = head[: exc.start].decode("utf-8")
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return Sniffed("image/svg+xml")
    if start.startswith(("<!doctype html", "<html", "<head", "<body", "<script")):
        return Sniffed("text/html")
    return Sniffed("text/plain; charset=utf-8")
