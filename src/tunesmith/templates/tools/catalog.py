"""The built-in tool formats by name, and a registry of them.

``TOOL_FORMATS`` is an immutable mapping built once at import (the formats are frozen dataclasses);
:func:`build_tool_format_registry` returns a fresh :class:`~tunesmith.registry.Registry` that a catalog
owns and plugins may extend. :func:`get_tool_format` looks a built-in name up with the registry's
"did you mean" error.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tunesmith.registry import Registry
from tunesmith.templates.tools.base import ToolFormat
from tunesmith.templates.tools.cohere import CommandRToolFormat
from tunesmith.templates.tools.deepseek import DeepSeekToolFormat
from tunesmith.templates.tools.glm import Glm4MoeToolFormat, Glm4ToolFormat
from tunesmith.templates.tools.gpt_oss import GptOssToolFormat
from tunesmith.templates.tools.granite import GraniteToolFormat
from tunesmith.templates.tools.hermes import HermesToolFormat
from tunesmith.templates.tools.llama3 import Llama3ToolFormat
from tunesmith.templates.tools.llama4 import Llama4ToolFormat
from tunesmith.templates.tools.mistral import MistralToolFormat
from tunesmith.templates.tools.phi4_mini import Phi4MiniToolFormat
from tunesmith.templates.tools.qwen3_coder import Qwen3CoderToolFormat
from tunesmith.templates.tools.react import ReactToolFormat

ORIGIN = "builtin:tools"
DEFAULT_TOOL_FORMAT = "react"

_BUILTIN: tuple[ToolFormat, ...] = (
    ReactToolFormat("react"),
    HermesToolFormat("qwen", definitions="qwen"),
    HermesToolFormat("hermes", definitions="hermes"),
    Llama3ToolFormat("llama3"),
    MistralToolFormat("mistral", version="v3"),
    MistralToolFormat("mistral_v11", version="v11"),
    MistralToolFormat("mistral_v13", version="v13"),
    Glm4ToolFormat("glm4"),
    Glm4MoeToolFormat("glm4_moe"),
    DeepSeekToolFormat("deepseek_v3", version="v3"),
    DeepSeekToolFormat("deepseek_v3_1", version="v3_1"),
    GptOssToolFormat("gpt_oss"),
    Phi4MiniToolFormat("phi4_mini"),
    Qwen3CoderToolFormat("qwen3_coder"),
    Llama4ToolFormat("llama4"),
    GraniteToolFormat("granite"),
    CommandRToolFormat("command_r", version="r"),
    CommandRToolFormat("command_r7b", version="r7b"),
)

TOOL_FORMATS: Mapping[str, ToolFormat] = MappingProxyType({f.name: f for f in _BUILTIN})
"""Name → built-in tool format (read-only)."""


def build_tool_format_registry() -> Registry[ToolFormat]:
    """A new registry holding every built-in tool format (origin ``builtin:tools``)."""
    registry: Registry[ToolFormat] = Registry("tool format")
    for name, fmt in TOOL_FORMATS.items():
        registry.register(name, fmt, origin=ORIGIN)
    return registry


def get_tool_format(name: str) -> ToolFormat:
    """The built-in tool format called ``name`` (case-insensitive); an unknown name raises
    :class:`~tunesmith.registry.RegistryError` listing close matches."""
    fmt = TOOL_FORMATS.get(name.lower())
    return fmt if fmt is not None else build_tool_format_registry().get(name)
