"""Request and response bodies of the OpenAI-compatible API (chat completions, completions, models).

Requests are validated here, before anything reaches the engine: a field of the wrong type, a value
out of range or an unknown role is a 400 with an OpenAI-style error body. Unknown extra fields are
ignored, as OpenAI-compatible servers do; fields we know but cannot honour (``logprobs``, non-zero
penalties, ``tool_choice: "required"``) are refused with a clear 400 in :mod:`tunesmith.serve.chat`.
``top_k`` and ``repetition_penalty`` are accepted as extensions (as vLLM does).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_N = 16
"""Most choices one request may ask for."""
MAX_STOP = 4
"""Most stop strings one request may give (OpenAI's limit)."""
FUNCTION_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


# ----------------------------------------------------------------------------------- messages


class TextPart(_Request):
    type: Literal["text"]
    text: str


class ImageURL(_Request):
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Request):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(_Request):
    data: str
    format: str


class AudioPart(_Request):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | ImagePart | AudioPart, Field(discriminator="type")]


class FunctionCall(_Request):
    name: str = Field(min_length=1)
    arguments: str = Field(description="The arguments as a JSON object, encoded as a string.")


class ToolCallIn(_Request):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None


# ----------------------------------------------------------------------------------- tools


class FunctionDef(_Request):
    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDef(_Request):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Request):
    name: str


class NamedToolChoice(_Request):
    type: Literal["function"]
    function: NamedFunction


class ResponseFormat(_Request):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class StreamOptions(_Request):
    include_usage: bool | None = None


# ----------------------------------------------------------------------------------- requests


class SamplingFields(_Request):
    """Sampling fields chat and completions share."""

    model: str = Field(min_length=1, description="The served model name (see GET /v1/models).")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Extension: sample among the top k."
    )
    repetition_penalty: float | None = Field(
        default=None, ge=0.01, le=10, description="Extension (HF semantics); tiny values overflow the logits."
    )
    presence_penalty: float | None = Field(default=None, ge=-2, le=2, description="Only 0 is supported.")
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2, description="Only 0 is supported.")
    max_tokens: int | None = Field(default=None, ge=1, le=2**31 - 1)
    n: int = Field(default=1, ge=1, le=MAX_N)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool | int | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=2**31 - 1)
    tools: list[ToolDef] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = Field(default=None, ge=1, le=MAX_N)


class ScoreRequest(_Request):
    """``POST /v1/score``: exactly one of ``input``, ``messages`` or ``conversations``."""

    model: str = Field(min_length=1, description="The served model name (or the reward model's name).")
    input: str | list[str] | None = Field(
        default=None, description="Already formatted text(s), scored as given (no template applied)."
    )
    messages: list[ChatMessage] | None = Field(
        default=None,
        description="One conversation, rendered with the model's template (no generation prompt).",
    )
    conversations: list[list[ChatMessage]] | None = Field(
        default=None, description="Several conversations, each rendered as `messages` is."
    )
    user: str | None = None


# ----------------------------------------------------------------------------------- responses


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class FunctionCallOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCallOut] | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class ScoreData(BaseModel):
    object: Literal["score"] = "score"
    index: int
    score: float


class ScoreUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class ScoreResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[ScoreData]
    usage: ScoreUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "tunesmith"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    running: int
    waiting: int
