"""`tunesmith env`: versions and devices, for bug reports."""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from importlib import metadata

PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "tokenizers",
    "safetensors",
    "jinja2",
)
OPTIONAL = ("vllm", "deepspeed", "bitsandbytes", "flash-attn", "gradio", "fastapi")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect() -> dict[str, str]:
    from tunesmith import __version__

    info = {
        "tunesmith": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for name in PACKAGES + OPTIONAL:
        info[name] = _version(name)
    try:
        import torch

        info["cpu threads"] = str(torch.get_num_threads())
        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = f"{torch.version.cuda} ({', '.join(names)})"
        else:
            info["cuda"] = "not available"
        mps = getattr(torch.backends, "mps", None)
        info["mps"] = "available" if mps is not None and mps.is_available() else "not available"
    except ImportError:
        info["cuda"] = "torch not installed"
    return info


def run(argv: Sequence[str], *, verb: str = "env") -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(
            "usage: tunesmith env\n\nPrint versions of Python, tunesmith and its libraries, and the devices."
        )
        return 0
    info = collect()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0
