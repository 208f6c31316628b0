"""Labelled routing examples: JSONL lines `{"question": "...", "labels": ["data-ai", ...]}`.

An empty `labels` list marks an off-topic question. The same files train the local classifier, fit
its thresholds and measure it, so a bad line fails loudly with its file and line number.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from crossroads.errors import InputError

PACKAGED_EXAMPLES = Path(__file__).resolve().parent / "examples" / "train.jsonl"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled question of an example file."""

    question: str
    labels: tuple[str, ...]
    """Specialists that should answer, most relevant first; empty for an off-topic question."""


def load_examples(path: Path | str, known_agents: Collection[str] | None = None) -> list[Example]:
    """Read one JSONL file. Raises `InputError` naming the file and line of the first bad line.

    With `known_agents`, a label that names no loaded specialist is an error too.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    examples: list[Example] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected an object with 'question' and 'labels'")
        question, labels = row.get("question"), row.get("labels", [])
        if not isinstance(question, str) or not question.strip():
            raise InputError(f"{where}: 'question' must be a non-empty string")
        if not isinstance(labels, list) or not all(isinstance(lb, str) for lb in labels):
            raise InputError(f"{where}: 'labels' must be a list of specialist names")
        if known_agents is not None:
            unknown = [lb for lb in labels if lb not in known_agents]
            if unknown:
                raise InputError(f"{where}: unknown label(s) {unknown}; known specialists: {sorted(known_agents)}")
        examples.append(Example(question=question, labels=tuple(dict.fromkeys(labels))))
    return examples


def load_many(paths: Iterable[Path | str], known_agents: Collection[str] | None = None) -> list[Example]:
    out: list[Example] = []
    for path in paths:
        out.extend(load_examples(path, known_agents))
    return out


def example_files(card_dirs: Iterable[Path | str], extra: Iterable[Path | str] = ()) -> list[Path]:
    """The packaged training file, every `*.jsonl` in a user cards directory, then configured files."""
    files = [PACKAGED_EXAMPLES] if PACKAGED_EXAMPLES.is_file() else []
    for directory in card_dirs:
        files.extend(sorted(Path(directory).glob("*.jsonl")))
    files.extend(Path(p) for p in extra)
    return files
