"""Request and response models of the HTTP service (and the MCP tools, which share the agent listing)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crossroads.result import AskResult, ResultSummary


class AskRequest(BaseModel):
    """Body of `POST /v1/ask` and `/v1/ask/stream`."""

    question: str = Field(description="The technical question (length limit: limits.max_question_chars).")
    agent: str | None = Field(None, description="Ask this specialist directly, bypassing routing.")


class RouteRequest(BaseModel):
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


class ContentPart(BaseModel):
    """One part of an OpenAI message's content array."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of an OpenAI chat request."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type == "text")


class StreamOptions(BaseModel):
    """OpenAI `stream_options`."""

    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The subset of OpenAI's request crossroads uses; other fields (temperature, tools, ...) are ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


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
