"""The offline synthesiser: several specialists' answers merged under one heading each, deterministically."""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from crossroads.offline.messages import MODEL_NAME, response, streamed, user_prompt
from crossroads.prompting import parse_synthesis_prompt


def offline_synthesizer() -> FunctionModel:
    """Offline synthesis: one answer with a heading per specialist, in the router's order."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = user_prompt(messages)
        _question, outputs = parse_synthesis_prompt(prompt)
        names = ", ".join(o.title.strip("*") for o in outputs)
        parts = [f"This question spans {len(outputs)} areas ({names}); each part is answered below."]
        for o in outputs:
            title = o.title.strip("*")
            body = o.answer.strip().removeprefix(f"**{title}**").strip()
            parts.append(f"\n## {title}\n{body}")
        text = "\n".join(parts)
        return response([TextPart(text)], prompt, text)

    return FunctionModel(respond, stream_function=streamed(respond), model_name=f"{MODEL_NAME}:synthesizer")
