"""Media safety: data URLs accepted, local paths only inside the allow-list, http(s) off by default and
never to non-public addresses, size and pixel limits."""

from __future__ import annotations

import base64
import io
import os

import pytest

from tunesmith.serve.media import (
    MediaError,
    MediaPolicy,
    check_image,
    check_local_path,
    check_remote_url,
    decode_data_url,
    is_public_address,
    load_media,
)


def png(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_data_url_accepted() -> None:
    item = load_media(data_url(png(4, 3)), MediaPolicy())
    assert item.origin == "data" and item.mime == "image/png"
    assert check_image(item.data, MediaPolicy()) == (4, 3)
    assert decode_data_url("data:,hello%20world", 100) == (None, b"hello world")


def test_oversized_data_url_rejected_before_decoding() -> None:
    with pytest.raises(MediaError, match="larger than the limit"):
        load_media(data_url(b"x" * 5000), MediaPolicy(max_bytes=1000))
    with pytest.raises(MediaError, match="base64"):
        load_media("data:image/png;base64,@@@", MediaPolicy())
    with pytest.raises(MediaError, match="malformed"):
        load_media("data:image/png;base64", MediaPolicy())


def test_too_many_pixels_rejected() -> None:
    with pytest.raises(MediaError, match="exceeds the limit"):
        check_image(png(300, 300), MediaPolicy(max_pixels=200 * 200))
    with pytest.raises(MediaError, match="not a readable image"):
        check_image(b"not an image", MediaPolicy())


def test_local_paths_only_inside_the_allow_list(tmp_path) -> None:
    allowed = tmp_path / "media"
    allowed.mkdir()
    (allowed / "ok.png").write_bytes(png(2, 2))
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    policy = MediaPolicy(allowed_dirs=(str(allowed),))
    assert load_media(str(allowed / "ok.png"), policy).origin == "file"
    assert load_media(f"file://{allowed / 'ok.png'}", policy).data == (allowed / "ok.png").read_bytes()
    for outside in (str(secret), str(allowed / ".." / "secret.txt"), f"file://{secret}", "/etc/passwd"):
        with pytest.raises(MediaError, match="outside the allowed"):
            load_media(outside, policy)
    os.symlink(secret, allowed / "link.txt")
    with pytest.raises(MediaError, match="outside the allowed"):
        check_local_path(str(allowed / "link.txt"), policy)
    with pytest.raises(MediaError, match="not allowed"):
        load_media(str(allowed / "ok.png"), MediaPolicy())
    with pytest.raises(MediaError, match="larger than the limit"):
        load_media(str(allowed / "ok.png"), MediaPolicy(allowed_dirs=(str(allowed),), max_bytes=10))


def test_http_off_by_default() -> None:
    with pytest.raises(MediaError, match="disabled"):
        load_media("https://example.com/cat.png", MediaPolicy())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.4",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "fc00::1",
    ],
)
def test_private_addresses_refused(address: str) -> None:
    assert not is_public_address(address)
    policy = MediaPolicy(allow_http=True)
    with pytest.raises(MediaError, match="non-public address"):
        check_remote_url("http://media.example/cat.png", policy, resolver=lambda host: [address])


def test_literal_private_ip_url_refused() -> None:
    with pytest.raises(MediaError, match="non-public"):
        load_media("http://127.0.0.1:8000/secret", MediaPolicy(allow_http=True))
    with pytest.raises(MediaError, match="non-public"):
        load_media("http://169.254.169.254/latest/meta-data", MediaPolicy(allow_http=True))


def test_public_address_allowed_and_private_opt_in() -> None:
    assert is_public_address("93.184.216.34")
    check_remote_url(
        "https://media.example/x.png", MediaPolicy(allow_http=True), resolver=lambda h: ["93.184.216.34"]
    )
    # one private answer among public ones is enough to refuse
    with pytest.raises(MediaError):
        check_remote_url(
            "https://media.example/x.png",
            MediaPolicy(allow_http=True),
            resolver=lambda h: ["93.184.216.34", "10.0.0.1"],
        )
    check_remote_url("http://127.0.0.1/x.png", MediaPolicy(allow_http=True, allow_private_hosts=True))


def test_unknown_scheme_refused() -> None:
    with pytest.raises(MediaError, match="unsupported media URL scheme"):
        load_media("ftp://example.com/x.png", MediaPolicy())
