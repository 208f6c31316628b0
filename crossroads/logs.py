"""structlog setup: console lines on a TTY, JSON lines otherwise, always on stderr, bound to the trace id.

Every line, structlog's own and those of stdlib loggers (uvicorn, the MCP SDK, httpx), goes through the
same chain, which ends in two safety steps:

- **Tracebacks without local variables.** structlog's defaults (`dict_tracebacks`, the rich console
  formatter) print every frame's locals; a web request's frames hold the ASGI scope and so the caller's
  `Authorization` header. Exceptions are rendered as plain frames (file, line, function, source line).
- **Redaction** (`crossroads.redact`): fields such as `authorization` or `headers` are dropped whole,
  and key-shaped or known secrets in any string (messages, exception text, stack source lines) become
  `[REDACTED]`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Literal, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from crossroads.redact import redact, redact_value

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _StderrLogger:
    """Writes each line to whatever `sys.stderr` is at call time (test runners swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = msg


def _stderr_logger(*_args: object) -> _StderrLogger:
    return _StderrLogger()


class _StderrHandler(logging.StreamHandler):
    """A stdlib handler on whatever `sys.stderr` is at emit time, like `_StderrLogger`."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def redact_event(_logger: Any, _method: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    """Structlog processor: sensitive fields dropped, secrets in every string value redacted."""
    return redact_value(event_dict)


def _redacting(renderer: structlog.types.Processor) -> structlog.types.Processor:
    """The renderer, with the rendered line redacted once more (covers reprs of arbitrary objects)."""

    def render(logger: Any, method: str, event_dict: structlog.types.EventDict) -> Any:
        line = renderer(logger, method, event_dict)
        return redact(line) if isinstance(line, str) else line

    return render


def _chains(use_json: bool) -> tuple[list[structlog.types.Processor], list[structlog.types.Processor]]:
    """(pre-chain shared by structlog and stdlib records, final steps: exceptions, redaction, renderer)."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if use_json:
        exceptions: structlog.types.Processor = structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False)
        )
        renderer = structlog.processors.JSONRenderer()
    else:
        exceptions = structlog.processors.format_exc_info  # plain traceback text, never locals
        colors = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
        renderer = structlog.dev.ConsoleRenderer(colors=colors)
    return shared, [exceptions, redact_event, _redacting(renderer)]


def configure_logging(fmt: Literal["auto", "console", "json"] = "auto", level: str = "warning") -> None:
    """Configure structlog and the stdlib root logger once per process.

    Logs never go to stdout (it carries `--json` and MCP stdio). The stdlib root logger gets one handler
    that renders its records through the same chain, so uvicorn's "Exception in ASGI application" and
    the MCP SDK's messages are redacted and formatted like crossroads' own lines. It replaces only
    handlers crossroads or the MCP SDK installed (the SDK adds a rich handler on first use): an
    application embedding crossroads that configured stdlib logging keeps its handlers.
    """
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    numeric = _LEVELS.get(level, logging.WARNING)
    shared, final = _chains(use_json)
    structlog.configure(
        processors=[*shared, *final],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    if any(not _replaceable(h) for h in root.handlers):
        return
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)


def _replaceable(handler: logging.Handler) -> bool:
    return isinstance(handler, _StderrHandler) or type(handler).__name__ == "RichHandler"
