"""Tool-call formats: how each model family writes tool definitions, tool calls and tool results, and
how tool calls are read back out of generated text (byte for byte as the official chat templates)."""

from tunesmith.templates.tools.base import ParsedToolCalls, ToolFormat, ToolFormatError
from tunesmith.templates.tools.catalog import (
    DEFAULT_TOOL_FORMAT,
    TOOL_FORMATS,
    build_tool_format_registry,
    get_tool_format,
)
from tunesmith.templates.tools.deepseek import DeepSeekToolFormat
from tunesmith.templates.tools.glm import Glm4MoeToolFormat, Glm4ToolFormat
from tunesmith.templates.tools.hermes import HermesToolFormat
from tunesmith.templates.tools.llama3 import Llama3ToolFormat
from tunesmith.templates.tools.mistral import MistralToolFormat, make_call_id, with_call_ids
from tunesmith.templates.tools.react import ReactToolFormat

__all__ = [
    "DEFAULT_TOOL_FORMAT",
    "TOOL_FORMATS",
    "DeepSeekToolFormat",
    "Glm4MoeToolFormat",
    "Glm4ToolFormat",
    "HermesToolFormat",
    "Llama3ToolFormat",
    "MistralToolFormat",
    "ParsedToolCalls",
    "ReactToolFormat",
    "ToolFormat",
    "ToolFormatError",
    "build_tool_format_registry",
    "get_tool_format",
    "make_call_id",
    "with_call_ids",
]
