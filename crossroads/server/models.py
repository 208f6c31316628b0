"""Request and response models of the HTTP service (and the MCP tools, which share the agent listing).

Request bodies are checked for text that is not valid Unicode (a JSON `"\udcff"`) before any other
validation, in every field including the extra ones OpenAI clients send: such text is rejected with a
400 (`code: invalid_text`, `param`: the field) rather than failing later when the answer, a log line or
the trace is encoded (see `crossroads.text.validity` for why reject, not normalise).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from crossroads.result import AskResult, ResultSummary
from crossroads.text.validity import find_bad_text

INVALID_TEXT = "invalid_text"
"""The pydantic error type (and the API error code) of text that is not valid Unicode."""


class ValidTextRequest(BaseModel):
    """A request body whose every string, key and nested value must be valid Unicode."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        found = find_bad_text(data)
        if found is not None:
            raise PydanticCustomError(
                INVALID_TEXT, "{message}", {"message": found.describe(), "param": found.path or None}
            )
        return data


class AskRequest(ValidTextRequest):
    """Body of `POST /v1/ask` and `/v1/ask/stream`."""

    question: str = Field(description="The technical question (length limit: limits.max_question_chars).")
    agent: str | None = Field(None, description="Ask this specialist directly, bypassing routing.")
    conversation_id: str | None = Field(
        None,
        description="Continue (or start) this stored conversation: the question is a follow-up of its turns"
        " and is appended to it with its answer.",
    )


class RouteRequest(ValidTextRequest):
    """Body of `POST /v1/route`."""

    question: str


class AgentInfo(BaseModel):
    """One specialist as `GET /v1/agents` lists it."""

    name: str
    title: str
    description: str
    tools: list[str]
    handoffs: list[str] = Field(description="Specialists this one may hand off to.")


class AgentList(BaseModel):
    """A list of specialists."""

    agents: list[AgentInfo]


def summary_headers(summary: ResultSummary) -> dict[str, str]:
    """The `X-Crossroads-*` response headers of an answered ask."""
    return {
        "X-Crossroads-Trace-Id": summary.trace_id,
        "X-Crossroads-Route": ",".join(summary.route),
        "X-Crossroads-Path": ",".join(summary.handoff_path),
    }


TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
"""Content part types that carry text (crossroads answers text; images and audio are refused)."""


class ContentPart(BaseModel):
    """One part of an OpenAI message's content array."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of an OpenAI chat request."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[Any] | None = None
    function_call: Any = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type in TEXT_PARTS)

    def other_parts(self) -> list[str]:
        """Types of content parts crossroads cannot read (image_url, input_audio, file, ...)."""
        if isinstance(self.content, str) or self.content is None:
            return []
        return [p.type for p in self.content if p.type not in TEXT_PARTS]


class StreamOptions(BaseModel):
    """OpenAI `stream_options`."""

    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(ValidTextRequest):
    """OpenAI's chat request: the fields crossroads uses, refuses or ignores (docs/server.md has the table).

    Fields crossroads cannot honour (`tools`, `n` > 1, JSON `response_format`, ...) are declared here
    so `openai_api.unsupported` can refuse them by name instead of ignoring them; unknown fields are
    accepted and ignored, as OpenAI-compatible servers do.
    """

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    # passed through to every model request of the ask
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = None
    # accepted, not used (see docs/server.md)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    user: str | None = None
    # refused unless they ask for nothing crossroads lacks
    n: int | None = Field(None, ge=1)
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    function_call: Any = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    audio: Any = None
    modalities: list[str] | None = None
    prediction: Any = None


class ChatUsage(BaseModel):
    """Token usage in OpenAI's shape."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, result: AskResult) -> ChatUsage:
        u = result.usage
        return cls(prompt_tokens=u.input_tokens, completion_tokens=u.output_tokens, total_tokens=u.total_tokens)


class ModelCard(BaseModel):
    """One entry of `GET /v1/models`."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "crossroads"


class ModelList(BaseModel):
    """The body of `GET /v1/models`."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ReadyStatus(BaseModel):
    """The body of `GET /readyz` once the orchestrator is loaded."""

    status: Literal["ready"] = "ready"
    agents: int
    trace_store: str | None
    sandbox: str | None = None
    model: str


def jsonable(model: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return model.model_dump(mode="json") if isinstance(model, BaseModel) else model
