"""Image work with Pillow: measure, check, strip metadata, thumbnail.

Everything here is blocking and runs in a thread (:class:`ImageWork`), a bounded number at a
time, so decoding never stalls the event loop and never takes more than ``workers`` times one
image's pixels of memory. Dimensions are read from the header before any pixel is decoded: a
decompression bomb (a few KB claiming 100,000 x 100,000 pixels) is refused without ever
being inflated.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from chatcore.errors import InvalidInput

THUMBNAIL = (320, 320)
THUMBNAIL_TYPE = "image/webp"
_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class Processed:
    """The image as served (re-encoded, without metadata) and its thumbnail, on disk."""

    content_type: str
    width: int
    height: int
    served_path: str
    thumbnail_path: str


def _refuse(message: str, code: str) -> InvalidInput:
    return InvalidInput("body", message, code=code)


def process(source: str, served: str, thumbnail: str, *, max_pixels: int) -> Processed:
    """Read the image at ``source``; write it without metadata (orientation applied) to
    ``served`` and a thumbnail to ``thumbnail``. 422 for a broken or too large image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                # Only the header has been read so far.
                width, height = image.size
                if width <= 0 or height <= 0 or width * height > max_pixels:
                    raise _refuse(
                        f"The image is {width} x {height} pixels; at most {max_pixels} "
                        "pixels are accepted.",
                        "image_too_large",
                    )
                kind = _FORMATS.get(image.format or "")
                if kind is None:
                    raise _refuse("The image format is not supported.", "invalid_image")
                frames = getattr(image, "n_frames", 1)
                if frames * width * height > max_pixels:
                    raise _refuse(
                        f"The animation has {frames} frames of {width} x {height} pixels; at "
                        f"most {max_pixels} pixels in all are accepted.",
                        "image_too_large",
                    )
                if frames > 1:
                    # An animation is kept as it is, minus its metadata; only the first
                    # frame is decoded for the thumbnail.
                    _save_animation(image, served, kind)
                    first = image.copy()
                else:
                    image.load()
                    first = ImageOps.exif_transpose(image)
                    _save_still(first, served, kind)
                width, height = first.size
                first.thumbnail(THUMBNAIL)
                _save_thumbnail(first, thumbnail)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _refuse("The image could not be read.", "invalid_image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse("The image has too many pixels.", "image_too_large") from exc
    return Processed(kind, width, height, served, thumbnail)


def _save_still(image: Image.Image, path: str, kind: str) -> None:
    # Saved without exif= / pnginfo=: Pillow writes no EXIF, XMP or text chunks unless given.
    if kind == "image/jpeg":
        rgb = image if image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
        rgb.save(path, "JPEG", quality=90, optimize=True)
    elif kind == "image/webp":
        image.save(path, "WEBP", quality=90)
    elif kind == "image/gif":
        image.save(path, "GIF")
    else:
        image.save(path, "PNG", optimize=False)


def _save_animation(image: Image.Image, path: str, kind: str) -> None:
    # Each frame is copied with an empty info: the writers copy metadata (a GIF comment, XMP)
    # they find in a frame's info. All frames are held at once, which the frame-pixel limit
    # in process() bounds.
    loop = image.info.get("loop", 0)
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        durations.append(frame.info.get("duration", 100))
        copy = frame.convert("RGBA")
        copy.info = {}
        frames.append(copy)
    fmt = "GIF" if kind == "image/gif" else "WEBP"
    frames[0].save(
        path,
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=loop,
        disposal=2,
    )


def _save_thumbnail(image: Image.Image, path: str) -> None:
    # Always WebP: small, keeps transparency, and every current browser shows it.
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB"
    image.convert(mode).save(path, "WEBP", quality=80)


class ImageWork:
    """Runs :func:`process` in threads, at most ``workers`` at once."""

    def __init__(self, *, workers: int, max_pixels: int) -> None:
        self._slots = asyncio.Semaphore(workers)
        self.max_pixels = max_pixels
        # Pillow's own bomb guard, as a second line behind the header check in process().
        Image.MAX_IMAGE_PIXELS = max_pixels

    async def process(self, source: str, served: str, thumbnail: str) -> Processed:
        async with self._slots:
            return await asyncio.to_thread(
                process, source, served, thumbnail, max_pixels=self.max_pixels
            )
