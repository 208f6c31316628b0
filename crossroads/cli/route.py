"""`crossroads route`: show a routing decision, measure the router on a labelled file, or fit its thresholds.

One command with three forms, because typer cannot mix a positional question with sub-commands:

    crossroads route "QUESTION"        the decision (targets, confidences, sub-questions, stage)
    crossroads route eval FILE.jsonl   quality metrics on a labelled file
    crossroads route fit FILE.jsonl    grid-search router.threshold / router.margin on a labelled file

This path never imports pydantic-ai unless a question has to be escalated to a configured LLM router.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossroads.cli.app import CardsOpt, ConfigOpt, JsonOpt, err, guarded, log_overrides, out, read_text_arg
from crossroads.cli.common import NoBuiltinOpt, StrictOpt, card_flags
from crossroads.errors import InputError

if TYPE_CHECKING:
    from crossroads.cards import AgentCard
    from crossroads.orchestrator import Orchestrator
    from crossroads.result import RouteDecision
    from crossroads.router.cascade import CascadeRouter
    from crossroads.router.evaluate import EvalReport

HELP = """Route a question, or evaluate / fit the router on a labelled JSONL file.

\b
  crossroads route "How do I autoscale pods on GKE?"   print the decision
  crossroads route - < question.txt                   read the question from stdin
  crossroads route eval FILE.jsonl [--json]            metrics on a labelled file
  crossroads route eval FILE.jsonl --cascade-report    what the cascade would escalate at its cut
  crossroads route fit FILE.jsonl [--write]            fit router.threshold and router.margin
  crossroads route build                               refit the shipped model (packaged cards/examples)

Lines of FILE.jsonl: {"question": "...", "labels": ["data-ai", ...]} (an empty list means off-topic).
`fit` prints the TOML to put in your config file; with --write it updates the user config file
(--config, else $CROSSROADS_CONFIG, else the platform config file) in place.
"""

MODES = ("local", "llm", "cascade")


def _setup(
    config: Path | None, cards_dirs: list[Path] | None, mode: str | None, card_options: dict[str, Any] | None = None
) -> Orchestrator:
    from crossroads.config import load_settings
    from crossroads.orchestrator import Orchestrator

    settings = load_settings(config, **log_overrides(), **(card_options or {}))
    if mode is not None:
        if mode not in MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)}, not '{mode}'")
        settings.router.mode = mode
    return Orchestrator(settings, cards_dirs=cards_dirs or ())


def _print_decision(decision: RouteDecision, as_json: bool) -> None:
    if as_json:
        out.print_json(decision.model_dump_json())
        return
    from rich.markup import escape
    from rich.table import Table

    if decision.abstain:
        out.print("[bold]abstain[/]: no specialist fits this question")
    else:
        table = Table("agent", "confidence", "sub-question", show_lines=len(decision.targets) > 1)
        for t in decision.targets:
            table.add_row(t.agent, f"{t.confidence:.2f}", escape(t.sub_question))
        out.print(table)
    scores = "  ".join(f"{n} {s:.2f}" for n, s in decision.scores.items())
    out.print(f"stage: {decision.stage}  ({decision.duration_ms:.2f} ms)", highlight=False)
    out.print(f"reason: {escape(decision.reason)}", highlight=False)
    out.print(f"scores: {scores}", highlight=False)


def _print_report(report: EvalReport, path: Path, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report.model_dump()))
        return
    from rich.table import Table

    head = Table("metric", "value", title=f"{path} ({report.n} questions)")
    for key in (
        "primary_accuracy",
        "exact_set_accuracy",
        "micro_precision",
        "micro_recall",
        "micro_f1",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "abstain_precision",
        "abstain_recall",
    ):
        head.add_row(key.replace("_", " "), f"{getattr(report, key):.3f}")
    head.add_row("latency p50 / p99", f"{report.latency_p50_ms:.3f} / {report.latency_p99_ms:.3f} ms")
    if report.stages:
        head.add_row("stages", ", ".join(f"{k} {v}" for k, v in sorted(report.stages.items())))
    out.print(head)
    agents = Table("agent", "precision", "recall", "f1", "support", "predicted", title="per agent")
    for name, s in report.per_agent.items():
        agents.add_row(name, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support), str(s.predicted))
    out.print(agents)
    cols = sorted({c for row in report.confusion.values() for c in row})
    matrix = Table("first label \\ primary target", *cols, title="confusion of primary targets")
    for row_name in sorted(report.confusion):
        row = report.confusion[row_name]
        matrix.add_row(row_name, *(str(row.get(c, "")) for c in cols))
    out.print(matrix)


def _eval(
    file: Path,
    config: Path | None,
    cards_dirs: list[Path] | None,
    mode: str | None,
    as_json: bool,
    card_options: dict[str, Any] | None = None,
    cascade: bool = False,
) -> None:
    from crossroads.router.evaluate import evaluate
    from crossroads.router.examples import load_examples

    orchestrator = _setup(config, cards_dirs, mode, card_options)
    examples = load_examples(file, known_agents=orchestrator.cards)
    if not examples:
        raise InputError(f"{file}: no examples")
    if cascade:
        _print_cascade(orchestrator.cascade, examples, orchestrator.cards, as_json)
        return
    _print_report(asyncio.run(evaluate(orchestrator.cascade, examples, orchestrator.cards)), file, as_json)


def _print_cascade(router: CascadeRouter, examples: Any, cards: dict[str, AgentCard], as_json: bool) -> None:
    from crossroads.router.evaluate import cascade_report

    s = router.settings
    rep = cascade_report(
        router.local.decide,
        router.escalation,
        examples,
        cascade_confidence=s.cascade_confidence,
        cascade_margin=s.cascade_margin,
        llm_configured=router.has_llm,
        agents=cards,
    )
    if as_json:
        out.print_json(rep.model_dump_json())
        return
    out.print(
        f"cut: best < {rep.cascade_confidence} or top-two margin < {rep.cascade_margin}; "
        f"escalated {rep.escalated} of {rep.n} ({rep.escalated_share:.1%})"
        + ("" if rep.llm_configured else "; no LLM router is configured, so the local stage decides them all"),
        highlight=False,
    )
    for name, r in (("kept", rep.kept), ("escalated (local)", rep.escalated_local), ("all (local)", rep.local)):
        out.print(
            f"{name:18} n={r.n:5}  primary {r.primary_accuracy:.3f}  micro F1 {r.micro_f1:.3f}  "
            f"exact {r.exact_set_accuracy:.3f}  abstain R {r.abstain_recall:.3f}",
            highlight=False,
        )


def _fit(
    file: Path,
    config: Path | None,
    cards_dirs: list[Path] | None,
    write: bool,
    min_abstain_recall: float,
    as_json: bool,
    card_options: dict[str, Any] | None = None,
) -> None:
    from crossroads.config.settings import default_config_file
    from crossroads.router.decision import Rule
    from crossroads.router.examples import load_examples
    from crossroads.router.fit import fit_rule, toml_snippet, write_rule

    orchestrator = _setup(config, cards_dirs, "local", card_options)
    examples = load_examples(file, known_agents=orchestrator.cards)
    if not examples:
        raise InputError(f"{file}: no examples")
    assessed = [orchestrator.cascade.local.model.assess(ex.question) for ex in examples]
    s = orchestrator.settings.router
    result = fit_rule(
        examples,
        [conf for conf, _ in assessed],
        Rule(s.threshold, s.margin, s.max_targets, s.off_topic_abstain),
        min_abstain_recall=min_abstain_recall,
        off_topic=[off for _, off in assessed],
    )
    target = Path(config) if config else default_config_file()
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "before": result.before.headline(),
                    "after": result.after.headline(),
                    "threshold": result.rule.threshold,
                    "margin": result.rule.margin,
                    "written": str(target) if write else None,
                }
            )
        )
    else:
        from rich.table import Table

        table = Table("metric", "before", "after", title=f"fit on {file} ({len(examples)} questions)")
        table.add_row("threshold", f"{s.threshold}", f"{result.rule.threshold}")
        table.add_row("margin", f"{s.margin}", f"{result.rule.margin}")
        for key, before in result.before.headline().items():
            if key != "n":
                table.add_row(key.replace("_", " "), f"{before:.3f}", f"{getattr(result.after, key):.3f}")
        table.add_row(
            "objective (micro F1 + primary)", f"{result.objective_before:.3f}", f"{result.objective_after:.3f}"
        )
        out.print(table)
    if write:
        write_rule(target, result.rule)
        err.print(f"wrote router.threshold and router.margin to {target}")
    elif not as_json:
        err.print("put this in your config file (or rerun with --write):")
        out.print(toml_snippet(result.rule), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("route", help=HELP)
    @guarded
    def route(
        args: Annotated[
            list[str], typer.Argument(help="QUESTION, or: eval FILE, or: fit FILE, or: build.", show_default=False)
        ],
        as_json: JsonOpt = False,
        cards: CardsOpt = None,
        config: ConfigOpt = None,
        mode: Annotated[
            str | None, typer.Option("--mode", help="local | llm | cascade (overrides router.mode).")
        ] = None,
        write: Annotated[bool, typer.Option("--write", help="fit: write the values to the config file.")] = False,
        min_abstain_recall: Annotated[
            float,
            typer.Option("--min-abstain-recall", min=0, max=1, help="fit: abstain recall the fitted values must keep."),
        ] = 0.8,
        strict: StrictOpt = False,
        no_builtin: NoBuiltinOpt = False,
        cascade_report: Annotated[
            bool, typer.Option("--cascade-report", help="eval: how many would escalate, how accurate the kept are.")
        ] = False,
    ) -> None:
        card_options = card_flags(strict, no_builtin)
        if args == ["build"]:
            from crossroads.router.cascade import build_packaged_model

            err.print(f"wrote {build_packaged_model()}")
            return
        if args and args[0] in ("eval", "fit") and len(args) >= 2:
            if len(args) > 2:
                raise InputError(f"route {args[0]} takes one FILE, got {len(args) - 1} arguments")
            file = Path(args[1])
            if args[0] == "eval":
                _eval(file, config, cards, mode, as_json, card_options, cascade_report)
            else:
                _fit(file, config, cards, write, min_abstain_recall, as_json, card_options)
            return
        question = read_text_arg(" ".join(args)) if args != ["-"] else read_text_arg("-")
        if not question.strip():
            raise InputError("the question is empty")
        orchestrator = _setup(config, cards, mode, card_options)
        _print_decision(asyncio.run(orchestrator.route(question)), as_json)
