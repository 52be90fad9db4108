"""The image library over real HTTP: an upload is checked on the server by its own
bytes (type, size, pixels, whole), kept under its content hash and served at a stable
public address with its type, nosniff and long caching; hostile uploads get a 4xx
naming the cause and leave nothing behind."""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import replace

import pytest
import requests

from superflow.plugins.email.library import Library
from superflow.testing.signing_in import csrf_token

LIMIT = 200_000


@pytest.fixture
def sf_config(sf_config):
    return replace(sf_config, image_max_bytes=LIMIT)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, pixels: bytes | None = None) -> bytes:
    rows = (
        pixels if pixels is not None else b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


GIF = b"GIF89a\x02\x00\x03\x00\x00\x00\x00,\x00\x00\x00\x00\x02\x00\x03\x00\x00\x02\x02D\x01\x00;"
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x11\x08\x00\x20\x00\x40\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00\x00\xff\xd9"
)
WEBP = (
    b"RIFF"
    + struct.pack("<I", 22)
    + b"WEBPVP8X"
    + struct.pack("<I", 10)
    + b"\x00" * 4
    + (99).to_bytes(3, "little")
    + (49).to_bytes(3, "little")
)


def upload(client, data: bytes, name: str = "picture.png", content_type: str = "image/png"):
    token = csrf_token(client.get("/email/library").get_data(as_text=True))
    return client.post(
        "/email/images",
        data={"file": (io.BytesIO(data), name, content_type)},
        headers={"X-CSRF-Token": token},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("data", "kind", "size"),
    [
        (png(30, 20), "png", (30, 20)),
        (GIF, "gif", (2, 3)),
        (JPEG, "jpg", (64, 32)),
        (WEBP, "webp", (100, 50)),
    ],
)
def test_an_image_is_kept_by_its_hash_and_served_publicly(sf_signed_in, sf_live_server, data, kind, size):
    editor = sf_signed_in("content_editor")
    answer = upload(editor, data, f"spring.{kind}", "application/octet-stream")
    assert answer.status_code == 200, answer.json
    found = answer.json
    assert found["file"].endswith(f".{kind}") and (found["width"], found["height"]) == size
    assert found["url"] == f"http://superflow.test/images/{found['file']}"
    served = requests.get(f"{sf_live_server}/images/{found['file']}", timeout=10)
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["Content-Type"] == {"jpg": "image/jpeg"}.get(kind, f"image/{kind}")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert upload(editor, data, "../../../etc/again.png").json["file"] == found["file"]
    listed = editor.get("/email/images.json").json["images"]
    assert [i["file"] for i in listed] == [found["file"]]


@pytest.mark.parametrize(
    ("data", "status", "cause"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            415,
            "SVG images are not",
        ),
        (b"%PDF-1.4 not a picture", 415, "not a PNG, JPEG, GIF or WebP"),
        (png(30, 20)[:-20], 422, "incomplete (cut short)"),
        (JPEG[:-2], 422, "incomplete (cut short)"),
        (GIF[:-1], 422, "incomplete (cut short)"),
        (png(50_000, 50_000, pixels=b"\x00"), 422, "50000×50000 pixels"),
        (b"", 422, "the file is empty"),
        (png(400, 400, pixels=os.urandom(250_000)), 413, "an image may be at most 0.2 MB"),
    ],
    ids=["svg", "pdf", "truncated-png", "truncated-jpeg", "truncated-gif", "bomb", "empty", "too-big"],
)
def test_hostile_uploads_are_refused_naming_the_cause(sf_signed_in, sf_runtime, data, status, cause):
    answer = upload(sf_signed_in("content_editor"), data, "x.png")
    assert answer.status_code == status
    [error] = answer.json["errors"]
    assert error["field"] == "file" and cause in error["message"]
    folder = sf_runtime.config.data_dir / "images"
    assert not folder.exists() or not list(folder.iterdir())


def test_a_request_without_a_file_or_from_a_viewer_is_refused(sf_signed_in):
    editor = sf_signed_in("content_editor")
    token = csrf_token(editor.get("/email/library").get_data(as_text=True))
    empty = editor.post(
        "/email/images", data={}, headers={"X-CSRF-Token": token}, content_type="multipart/form-data"
    )
    assert empty.status_code == 422
    assert empty.json["errors"][0]["message"] == "choose an image to upload"
    assert upload(sf_signed_in("viewer"), png(2, 2)).status_code == 403


def test_names_that_are_not_images_get_no_file(sf_client, sf_signed_in):
    upload(sf_signed_in("content_editor"), png(2, 2))
    for path in (
        "/images/../secret_key",
        "/images/abc.png",
        "/images/" + "0" * 32 + ".svg",
        "/images/x%00.png",
    ):
        assert sf_client.get(path).status_code == 404, path


def test_an_image_in_use_is_not_deleted(sf_signed_in, sf_runtime):
    editor = sf_signed_in("content_editor")
    found = upload(editor, png(4, 4)).json
    Library(sf_runtime).create("News", {"blocks": [{"type": "image", "src": found["url"]}]}, "editor")
    token = csrf_token(editor.get("/email/library").get_data(as_text=True))
    refused = editor.post(f"/email/images/{found['file']}/delete", headers={"X-CSRF-Token": token})
    assert refused.status_code == 409
    assert refused.json["errors"][0]["message"] == (
        "this image is used by library email News: take it out there first"
    )
    other = upload(editor, png(5, 5)).json
    assert (
        editor.post(f"/email/images/{other['file']}/delete", headers={"X-CSRF-Token": token}).status_code
        == 200
    )
    assert editor.get(f"/images/{other['file']}").status_code == 404


def test_the_image_size_limit_is_a_number_of_bytes():
    from superflow.config import Config
    from superflow.config import ConfigError

    assert Config.from_env({"SUPERFLOW_IMAGE_MAX_BYTES": "1048576"}).image_max_bytes == 1048576
    for wrong in ("5MB", "0", "-3"):
        with pytest.raises(ConfigError, match="SUPERFLOW_IMAGE_MAX_BYTES"):
            Config.from_env({"SUPERFLOW_IMAGE_MAX_BYTES": wrong})
