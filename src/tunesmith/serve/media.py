"""Where the server may read media (images, audio) a request refers to, and how much.

* ``data:`` URLs are always accepted (within the size limit; base64 size is checked before decoding).
* Local paths (plain or ``file://``) only inside an allow-listed folder, after resolving symlinks and
  ``..``; with no allow-listed folder, no local file is read.
* ``http(s)://`` is off by default. When allowed, hosts that resolve to loopback, private, link-local,
  multicast, reserved or unspecified addresses are refused unless ``allow_private_hosts`` is set;
  redirects are not followed (a redirect could point inside the network); the body is read up to
  ``max_bytes``. The name is resolved before connecting, so a host whose DNS answer changes in between
  (DNS rebinding) is not covered: keep remote fetching off on servers inside a trusted network.
* Images are checked against ``max_pixels`` from their header only (nothing is decoded).

Everything raises :class:`MediaError` (a ``ValueError``: the API answers 400) with the reason.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from tunesmith.templates.messages import Conversation

Resolver = Callable[[str], Sequence[str]]
"""Host name → IP addresses (injectable for tests)."""


class MediaError(ValueError):
    """A media reference the policy refuses or that cannot be read."""


@dataclass(frozen=True)
class MediaPolicy:
    allowed_dirs: tuple[str, ...] = ()
    """Folders local media may be read from (empty: no local files)."""
    allow_http: bool = False
    """Fetch http(s) URLs."""
    allow_private_hosts: bool = False
    """Also fetch from loopback / private / link-local addresses (only with ``allow_http``)."""
    max_bytes: int = 20 * 2**20
    """Largest media item in bytes."""
    max_pixels: int = 4096 * 4096
    """Largest image (width x height)."""
    timeout_s: float = 10.0
    """Timeout of one http(s) fetch."""


@dataclass(frozen=True)
class MediaItem:
    data: bytes
    mime: str | None
    origin: Literal["data", "file", "http"]


def load_media(source: str, policy: MediaPolicy, *, resolver: Resolver | None = None) -> MediaItem:
    """Read the media ``source`` refers to, as ``policy`` allows."""
    if not isinstance(source, str) or not source:
        raise MediaError("media reference must be a non-empty string")
    scheme = urlsplit(source).scheme.lower()
    if scheme == "data":
        mime, data = decode_data_url(source, policy.max_bytes)
        return MediaItem(data, mime, "data")
    if scheme in ("http", "https"):
        return MediaItem(fetch_http(source, policy, resolver=resolver), None, "http")
    if scheme == "file":
        return MediaItem(read_local(unquote(urlsplit(source).path), policy), None, "file")
    if scheme and len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise MediaError(f"unsupported media URL scheme {scheme!r}; use data:, http(s): or a local path")
    return MediaItem(read_local(source, policy), None, "file")


def decode_data_url(url: str, max_bytes: int) -> tuple[str | None, bytes]:
    """The MIME type and bytes of a ``data:[<mime>][;base64],<payload>`` URL."""
    head, sep, payload = url.partition(",")
    if not sep or not head.lower().startswith("data:"):
        raise MediaError("malformed data URL: expected data:[<mime>][;base64],<payload>")
    meta = head[5:].split(";")
    mime = meta[0] or None
    if "base64" in (m.lower() for m in meta[1:]):
        if len(payload) * 3 // 4 > max_bytes + 3:
            raise MediaError(f"data URL is larger than the limit of {max_bytes} bytes")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise MediaError("data URL payload is not valid base64") from None
    else:
        data = unquote(payload).encode("utf-8")
    if len(data) > max_bytes:
        raise MediaError(f"data URL is larger than the limit of {max_bytes} bytes ({len(data)})")
    return mime, data


def check_local_path(path: str, policy: MediaPolicy) -> Path:
    """``path`` resolved, if it lies inside an allow-listed folder (symlinks and ``..`` resolved first)."""
    if not policy.allowed_dirs:
        raise MediaError("local media paths are not allowed on this server (no media folder is configured)")
    try:
        resolved = Path(path).expanduser().resolve(strict=False)
    except (OSError, RuntimeError) as exc:
        raise MediaError(f"cannot resolve media path {path!r}: {exc}") from None
    for folder in policy.allowed_dirs:
        root = Path(folder).expanduser().resolve(strict=False)
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise MediaError(f"media path {path!r} is outside the allowed media folder(s)")


def read_local(path: str, policy: MediaPolicy) -> bytes:
    resolved = check_local_path(path, policy)
    if not resolved.is_file():
        raise MediaError(f"media file not found: {path!r}")
    size = resolved.stat().st_size
    if size > policy.max_bytes:
        raise MediaError(f"media file {path!r} is larger than the limit of {policy.max_bytes} bytes ({size})")
    return resolved.read_bytes()


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses (IPv4
    addresses mapped into IPv6 are judged as IPv4)."""
    try:
        ip: Any = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise MediaError(f"cannot resolve media host {host!r}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def check_remote_url(url: str, policy: MediaPolicy, *, resolver: Resolver | None = None) -> None:
    """Raise :class:`MediaError` unless ``policy`` allows fetching ``url``."""
    if not policy.allow_http:
        raise MediaError("http(s) media URLs are disabled on this server; send the media as a data: URL")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise MediaError(f"malformed media URL {url[:100]!r}")
    if policy.allow_private_hosts:
        return
    addresses = list((resolver or _resolve)(parts.hostname))
    if not addresses:
        raise MediaError(f"media host {parts.hostname!r} has no address")
    refused = [a for a in addresses if not is_public_address(a)]
    if refused:
        raise MediaError(
            f"media host {parts.hostname!r} resolves to a non-public address ({refused[0]}); refused"
        )


def fetch_http(url: str, policy: MediaPolicy, *, resolver: Resolver | None = None) -> bytes:
    import urllib.error
    import urllib.request

    check_remote_url(url, policy, resolver=resolver)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            raise MediaError(f"media URL {url[:100]!r} redirects; redirects are not followed")

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=policy.timeout_s) as response:
            data = response.read(policy.max_bytes + 1)
    except MediaError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MediaError(f"cannot fetch media URL {url[:100]!r}: {exc}") from None
    if len(data) > policy.max_bytes:
        raise MediaError(f"media at {url[:100]!r} is larger than the limit of {policy.max_bytes} bytes")
    return data


def check_image(data: bytes, policy: MediaPolicy) -> tuple[int, int]:
    """The (width, height) of an image, read from its header; raises when it is not an image or has
    more than ``max_pixels`` pixels."""
    import io

    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow ships with the vision extras
        raise MediaError("reading images needs Pillow (pip install pillow)") from exc
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception as exc:  # Pillow raises many types for bad input
        raise MediaError(f"not a readable image ({type(exc).__name__})") from None
    if width * height > policy.max_pixels:
        raise MediaError(f"image of {width}x{height} pixels exceeds the limit of {policy.max_pixels} pixels")
    return width, height


def resolve_images(conversation: Conversation, policy: MediaPolicy) -> Conversation:
    """``conversation`` with every image read as ``policy`` allows, checked against its pixel limit and
    passed on as a ``data:`` URL (the engine then reads nothing else); errors name the message and part."""
    import dataclasses

    messages = []
    for i, message in enumerate(conversation.messages):
        if isinstance(message.content, str) or not message.media:
            messages.append(message)
            continue
        parts = []
        for j, part in enumerate(message.content):
            if part.type == "image":
                try:
                    item = load_media(part.source or "", policy)
                    check_image(item.data, policy)
                except MediaError as exc:
                    raise MediaError(f"messages[{i}].content[{j}]: {exc}") from None
                mime = item.mime or "application/octet-stream"
                url = f"data:{mime};base64,{base64.b64encode(item.data).decode('ascii')}"
                part = dataclasses.replace(part, source=url)
            parts.append(part)
        messages.append(dataclasses.replace(message, content=tuple(parts)))
    return dataclasses.replace(conversation, messages=tuple(messages))
