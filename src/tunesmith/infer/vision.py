"""Images in prompts of vision-language models: the rendered prompt's image placeholders expanded to
the model's image tokens, and the pixel inputs ``generate`` needs.

The template renders one placeholder per image part (``<|vision_start|><|image_pad|><|vision_end|>``,
``<image>``, ...), as it did in training. :class:`VisionInputs` then does what the model's processor
does: with a full processor (``AutoProcessor``: LLaVA, ...) the processor itself expands the
placeholders and tokenizes (without special tokens, like every prompt); with an image processor
only (Qwen2-VL without torchvision, whose processor class needs it for videos), the image token is
repeated ``prod(image_grid_thw) / merge_size**2`` times, which is Qwen2-VL's own rule, and
``mm_token_type_ids`` (1 on image tokens) is added when the model reads it (its multimodal RoPE
positions come from it; without it generation silently falls back to text positions).

Image references are opened by :func:`open_image`: ``data:`` URLs and local paths. The server never
hands it anything else: it reads media through :mod:`tunesmith.serve.media` (its allow-list, size and
pixel limits) and passes the accepted bytes on as ``data:`` URLs.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)


class ImageError(ValueError):
    """An image that cannot be used (unreadable, unsupported reference, placeholder mismatch)."""


def open_image(source: str | None) -> Any:
    """The RGB ``PIL.Image`` a ``data:`` URL or local path refers to."""
    from PIL import Image

    if not source:
        raise ImageError("an image part has no image (expected a data: URL or a local path)")
    scheme = urlsplit(source).scheme.lower()
    if scheme == "data":
        head, sep, payload = source.partition(",")
        if not sep:
            raise ImageError("malformed data URL: expected data:[<mime>][;base64],<payload>")
        try:
            data = (
                base64.b64decode(payload, validate=True)
                if ";base64" in head.lower()
                else unquote(payload).encode("utf-8")
            )
        except (binascii.Error, ValueError):
            raise ImageError("data URL payload is not valid base64") from None
    elif scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
        path = Path(unquote(urlsplit(source).path) if scheme == "file" else source).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read image {source!r}: {exc}") from None
    else:
        raise ImageError(f"unsupported image reference {source[:60]!r}; use a data: URL or a local path")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except Exception as exc:  # Pillow raises many types for bad input
        raise ImageError(f"not a readable image ({type(exc).__name__})") from None


@dataclass(frozen=True)
class ImagePrompt:
    """A prompt's token ids with the image tokens expanded, and the model's pixel inputs."""

    ids: tuple[int, ...]
    inputs: Mapping[str, Any]
    """``pixel_values`` and whatever else the processor returns besides the text (``image_grid_thw``)."""


class VisionInputs:
    """Expands image placeholders and prepares pixel inputs for one vision-language model."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        processor: Any | None = None,
        image_processor: Any | None = None,
        image_token: str,
        token_type_ids: bool = False,
    ) -> None:
        if processor is None and image_processor is None:
            raise ValueError("VisionInputs needs a processor or an image processor")
        self.tokenizer = tokenizer
        self.processor = processor
        self.image_processor = image_processor
        self.image_token = image_token
        """The token the template's image placeholder contains once per image."""
        self.token_type_ids = token_type_ids
        """Add ``mm_token_type_ids`` to the inputs (models with multimodal RoPE, e.g. Qwen2-VL)."""

    def prepare(self, text: str, images: Sequence[Any]) -> ImagePrompt:
        """``text`` (rendered, one placeholder per image) tokenized with its image tokens expanded."""
        found = text.count(self.image_token)
        if found != len(images):
            raise ImageError(
                f"the prompt has {found} image placeholder(s) ({self.image_token!r}) for {len(images)} image(s)"
            )
        if self.processor is not None:
            out = self.processor(
                text=[text], images=list(images), add_special_tokens=False, return_tensors="pt"
            )
            extra = {k: v for k, v in out.items() if k not in ("input_ids", "attention_mask")}
            return ImagePrompt(tuple(out["input_ids"][0].tolist()), extra)
        out = self.image_processor(images=list(images), return_tensors="pt")
        extra = dict(out.items())
        grid = extra.get("image_grid_thw")
        if grid is None:
            raise ImageError(
                f"{type(self.image_processor).__name__} gives no image_grid_thw: this model needs its full "
                "processor (install what AutoProcessor asks for)"
            )
        merge = int(getattr(self.image_processor, "merge_size", 1)) ** 2
        pieces = text.split(self.image_token)
        expanded = pieces[0]
        for row, piece in zip(grid.tolist(), pieces[1:], strict=True):
            count = row[0] * row[1] * row[2] // merge
            expanded += self.image_token * count + piece
        ids = self.tokenizer(expanded, add_special_tokens=False)["input_ids"]
        if self.token_type_ids and "mm_token_type_ids" not in extra:
            import torch

            image_id = self.tokenizer.convert_tokens_to_ids(self.image_token)
            extra["mm_token_type_ids"] = torch.tensor([[int(t == image_id) for t in ids]], dtype=torch.long)
        return ImagePrompt(tuple(ids), extra)


def load_vision_inputs(source: str, tokenizer: Any, model: Any) -> VisionInputs:
    """The :class:`VisionInputs` of the checkpoint in ``source`` (its processor, else its image
    processor); ``model``'s config names the image token (``image_token_id``)."""
    import inspect

    from transformers import AutoImageProcessor, AutoProcessor

    model_config = model.config
    token_id = getattr(model_config, "image_token_id", None)
    if token_id is None:
        token_id = getattr(model_config, "image_token_index", None)
    if not isinstance(token_id, int):
        raise ValueError(f"{type(model_config).__name__} names no image token (image_token_id)")
    image_token = tokenizer.convert_ids_to_tokens(token_id)
    try:
        processor = AutoProcessor.from_pretrained(source)
    except (ImportError, OSError, ValueError, TypeError) as exc:
        logger.info("no full processor for %s (%s); using its image processor", source, type(exc).__name__)
        processor = None
    if processor is not None and getattr(processor, "image_processor", None) is not None:
        return VisionInputs(tokenizer, processor=processor, image_token=image_token)
    try:
        image_processor = AutoImageProcessor.from_pretrained(source)
    except (ImportError, OSError, ValueError) as exc:
        raise ValueError(f"cannot load the image processor of {source}: {exc}") from exc
    reads_types = "mm_token_type_ids" in inspect.signature(model.forward).parameters
    return VisionInputs(
        tokenizer, image_processor=image_processor, image_token=image_token, token_type_ids=reads_types
    )
