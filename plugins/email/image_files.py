"""What an uploaded image really is, read from its own bytes: PNG, JPEG, GIF or WebP,
its pixel size, and whether it is whole.  The name and the browser's content type
are not believed; SVG is refused (it can carry scripts).  Only headers are read, so
a "decompression bomb" (a small file of a huge picture) is refused by its stated
size before anything would decode it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_SIDE = 10_000
MAX_PIXELS = 40_000_000
TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


class NotAnImage(ValueError):
    """The bytes are not an image this library takes; the message says why, and
    ``status`` is the HTTP answer: 415 for another kind of file, 422 for an image
    that cannot be used (cut short, too many pixels)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ImageFile:
    kind: str  # png, jpg, gif, webp
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return TYPES[self.kind]


def inspect(data: bytes) -> ImageFile:
    """The image's type and size, or :class:`NotAnImage` naming what is wrong."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        found = _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        found = _jpeg(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        found = _gif(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        found = _webp(data)
    else:
        head = data[:512].lstrip().lower()
        if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
            raise NotAnImage(
                "SVG images are not accepted (they can carry scripts): use PNG, JPEG, GIF or WebP", 415
            )
        raise NotAnImage("this is not a PNG, JPEG, GIF or WebP image", 415)
    if found.width < 1 or found.height < 1:
        raise NotAnImage("the image says it has no pixels")
    if found.width > MAX_SIDE or found.height > MAX_SIDE or found.width * found.height > MAX_PIXELS:
        raise NotAnImage(
            f"the image is {found.width}×{found.height} pixels; at most {MAX_SIDE} pixels a side"
            f" and {MAX_PIXELS // 1_000_000} million in all"
        )
    return found


def _cut() -> NotAnImage:
    return NotAnImage("the image file is incomplete (cut short)")


def _png(data: bytes) -> ImageFile:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _cut()
    width, height = struct.unpack(">II", data[16:24])
    if not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        raise _cut()
    return ImageFile("png", width, height)


SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageFile:
    at = 2
    size: tuple[int, int] | None = None
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise NotAnImage("the JPEG file is damaged")
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in SOF:
            if at + 9 > len(data):
                raise _cut()
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: the picture data follows
            break
        at += 2 + length
    if size is None:
        raise _cut()
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise _cut()
    return ImageFile("jpg", *size)


def _gif(data: bytes) -> ImageFile:
    if len(data) < 14:
        raise _cut()
    width, height = struct.unpack("<HH", data[6:10])
    if not data.rstrip(b"\x00").endswith(b";"):
        raise _cut()
    return ImageFile("gif", width, height)


def _webp(data: bytes) -> ImageFile:
    (riff_size,) = struct.unpack("<I", data[4:8])
    if len(data) < 30 or riff_size + 8 > len(data):
        raise _cut()
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise NotAnImage("the WebP file is damaged")
        width, height = (v & 0x3FFF for v in struct.unpack("<HH", data[26:30]))
    elif chunk == b"VP8L":
        if data[20] != 0x2F:
            raise NotAnImage("the WebP file is damaged")
        bits = int.from_bytes(data[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise NotAnImage("the WebP file is damaged")
    return ImageFile("webp", width, height)
