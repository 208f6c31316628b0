"""The text crossroads sends to models.

Specialist instructions built from cards, and the prompts of a specialist turn and of synthesis. One
place, so every model (offline or real) sees the same shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crossroads.cards import AgentCard

CONTEXT_SEPARATOR = "\n\n---\n"
CONTEXT_LINE = "Full question, for context: "
COVERED_LINE = "Already covered by other specialists: "
ANSWER_MARKER = re.compile(r"^<<answer agent=\"([a-z0-9-]+)\">>\n(.*?)\n<<end>>$", re.DOTALL | re.MULTILINE)


def specialist_instructions(card: AgentCard, neighbours: dict[str, str]) -> str:
    """System instructions of one specialist: its role, how to use tools and handoffs, then its card."""
    lines = [
        f"You are the {card.display_name} of crossroads, a team of technical specialists.",
        f"Your remit: {card.description}",
        "Answer the user's question precisely and practically from your knowledge below. Cite the sections"
        " of your knowledge you rely on by their headings.",
    ]
    if card.tools:
        lines.append(
            "Tools run in an isolated sandbox: use run_python to execute code the question contains or that"
            " demonstrates your answer, check_math to verify any arithmetic, statistical or symbolic claim,"
            " and run_sql for SQL. Report what the tools returned; never invent tool output."
            f" Your tools: {', '.join(card.tools)}."
        )
    if neighbours:
        lines.append(
            "When part of the question belongs to a neighbouring specialist, call the handoff tool with that"
            " part; you may only hand off to: "
            + "; ".join(f"{name} ({reason})" for name, reason in neighbours.items())
            + ". Merge their answer into yours."
        )
    return "\n".join(lines) + "\n\n# Your knowledge\n\n" + card.body.strip() + "\n"


def specialist_prompt(part: str, question: str, covered: list[str] | tuple[str, ...] = ()) -> str:
    """The user turn a specialist receives.

    Its part, the whole question when that differs, and which specialists already cover the rest (so it
    does not hand work back to them).
    """
    extra = []
    if part.strip() != question.strip():
        extra.append(CONTEXT_LINE + question.strip())
    if covered:
        extra.append(COVERED_LINE + ", ".join(covered))
    return part.strip() + (CONTEXT_SEPARATOR + "\n".join(extra) if extra else "")


def split_specialist_prompt(prompt: str) -> tuple[str, str, list[str]]:
    """Inverse of `specialist_prompt`: (the specialist's part, the whole question, covered agents)."""
    part, sep, rest = prompt.partition(CONTEXT_SEPARATOR)
    question, covered = part, []
    if sep:
        for line in rest.split("\n"):
            if line.startswith(CONTEXT_LINE):
                question = line.removeprefix(CONTEXT_LINE)
            elif line.startswith(COVERED_LINE):
                covered = [a.strip() for a in line.removeprefix(COVERED_LINE).split(",") if a.strip()]
            else:  # a context line wrapped over several lines
                question += "\n" + line
    return part, question, covered


SYNTHESIS_INSTRUCTIONS = (
    "You are the synthesiser of crossroads. Several specialists answered parts of one technical question."
    " Merge their answers into one coherent answer: keep every concrete recommendation, tool result and"
    " caveat, remove repetition, resolve contradictions explicitly, and keep a short heading per specialist"
    " where that helps. Do not add facts that no specialist gave."
)


@dataclass(frozen=True)
class SpecialistOutput:
    """One specialist's answer as the synthesiser receives it."""

    agent: str
    title: str
    answer: str


def synthesis_prompt(question: str, outputs: list[SpecialistOutput]) -> str:
    blocks = "\n\n".join(f'<<answer agent="{o.agent}">>\n{o.title}\n{o.answer}\n<<end>>' for o in outputs)
    return f"Question:\n{question}\n\nSpecialist answers:\n\n{blocks}\n"


def parse_synthesis_prompt(prompt: str) -> tuple[str, list[SpecialistOutput]]:
    question = prompt.split("\n\nSpecialist answers:", 1)[0].removeprefix("Question:\n")
    outputs = []
    for agent, body in ANSWER_MARKER.findall(prompt):
        title, _, answer = body.partition("\n")
        outputs.append(SpecialistOutput(agent, title, answer))
    return question, outputs
