"""The hand-built multipart body: what a standard parser reads back, and no header injection."""

from __future__ import annotations

import email.parser
import email.policy

import pytest

from providers.multipart import FilePart, multipart


def test_a_standard_parser_reads_fields_then_files() -> None:
    data = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n"
    body, content_type = multipart(
        {"size": "full", "roi": "10px 5% 90.5% 150px"},
        [FilePart("image_file", "image.png", "image/png", data),
         FilePart("bg_image_file", "background.jpg", "image/jpeg", b"\xff\xd8\xff")],
    )

    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = [(p.get_param("name", header="content-disposition"), p.get_filename(),
              p.get_content_type(), p.get_payload(decode=True)) for p in message.iter_parts()]
    assert parts == [
        ("size", None, "text/plain", b"full"),
        ("roi", None, "text/plain", b"10px 5% 90.5% 150px"),
        ("image_file", "image.png", "image/png", data),
        ("bg_image_file", "background.jpg", "image/jpeg", b"\xff\xd8\xff"),
    ]
    assert content_type.startswith("multipart/form-data; boundary=")


@pytest.mark.parametrize("bad", ['a"b', "a\r\nX-Injected: 1", "line\n"])
def test_quotes_and_line_breaks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        multipart({bad: "v"}, [])
    with pytest.raises(ValueError):
        multipart({}, [FilePart("file", bad, "image/png", b"")])
