"""The offline router: the local classifier, the decision rule and the per-specialist split.

The fitted model is cached under the user cache directory, keyed by a hash of everything it is
trained from (cards, example files, model version), so editing a card or adding an example file
refits it automatically on next use and an unchanged setup loads in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from crossroads.cards import AgentCard
from crossroads.config import RouterSettings
from crossroads.result import RouteDecision, RouteTarget
from crossroads.router.decision import Rule, choose
from crossroads.router.examples import Example, load_many
from crossroads.router.model import DEFAULT_HYPER, MODEL_VERSION, Doc, Hyper, LocalModel, fit, fit_semantic
from crossroads.text import segments

if TYPE_CHECKING:
    from crossroads.router.semantic import SemanticTier

T = TypeVar("T")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_MARKUP = re.compile(r"[*_`>|]+")


def card_docs(card: AgentCard, weight: float) -> list[Doc]:
    """A card as training documents: description, capabilities, sections and their bullets.

    Sections read like long posts and bullets like terse titles; both kinds of question occur.
    """
    label = (card.name,)
    docs = [Doc(card.description, label, weight, from_card=True)]
    docs += [Doc(cap, label, weight, from_card=True) for cap in card.capabilities]
    for section in card.sections:
        heading = section.heading.split(" > ")[-1]
        text = _MARKUP.sub(" ", section.text)
        docs.append(Doc(f"{heading}\n{text}", label, weight, from_card=True))
        for line in text.splitlines():
            match = _BULLET.match(line)
            if match and len(match.group(1)) > 20:
                docs.append(Doc(match.group(1), label, weight, from_card=True))
    return docs


BOILERPLATE_CARDS = 3
"""Card text found word for word in this many cards or more describes none of them and is dropped."""


def training_docs(cards: Mapping[str, AgentCard], examples: Iterable[Example], hyper: Hyper) -> list[Doc]:
    """Card documents (minus shared boilerplate) and the examples about the loaded cards.

    Folders of user cards repeat the same checklists and workflow steps in every card ("Tests written
    and passing"); as training text such a line votes for a random card, so it is left out.
    """
    per_card = [card_docs(card, hyper.card_weight) for card in cards.values()]
    spread: dict[str, int] = {}
    for card_doc_list in per_card:
        for text in {_norm(d.text) for d in card_doc_list}:
            spread[text] = spread.get(text, 0) + 1
    docs: list[Doc] = []
    for card_doc_list in per_card:
        docs.extend(d for d in card_doc_list if spread[_norm(d.text)] < BOILERPLATE_CARDS)
    for ex in examples:
        labels = tuple(lb for lb in ex.labels if lb in cards)
        if ex.labels and not labels:
            continue  # about specialists that are not loaded here: neither positive nor off-topic
        docs.append(Doc(ex.question, labels, 1.0))
    return docs


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def default_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return Path(os.environ.get("CROSSROADS_CACHE_DIR") or user_cache_path("crossroads")) / "router"


PACKAGED_FITTED = Path(__file__).resolve().parent / "fitted"
"""The model fitted on the packaged cards and examples, shipped so a fresh install never fits at first
use; `crossroads route build` rebuilds it (a test fails when it is stale)."""
CACHE_KEEP = 8
"""Fitted models kept in the user cache (the newest); older ones are removed when a new one is written."""


def model_key(cards: Mapping[str, AgentCard], example_files: Sequence[Path], hyper: Hyper = DEFAULT_HYPER) -> str:
    """A hash of everything a fit depends on; the example files' bytes, so computing it never parses them."""
    key = hashlib.sha256()
    key.update(f"v{MODEL_VERSION}|{hyper!r}".encode())
    for name in sorted(cards):
        card = cards[name]
        key.update(json.dumps([name, card.description, card.capabilities, card.body]).encode())
    for file in example_files:
        try:
            key.update(file.read_bytes())
        except OSError:
            key.update(str(file).encode())  # load_many reports the unreadable file when fitting
    return key.hexdigest()[:24]


def load_or_fit(
    cards: Mapping[str, AgentCard],
    example_files: Sequence[Path],
    *,
    hyper: Hyper = DEFAULT_HYPER,
    cache_dir: Path | None = None,
    semantic: str | None = None,
) -> LocalModel:
    """The fitted model for these inputs, with the semantic tier of encoder `semantic` (None: lexical only).

    The shipped one or the cached one when the key matches, else fitted now and cached. The lexical
    model and the semantic tier are separate files under one key, so switching the encoder reuses the
    lexical fit and only embeds the documents.
    """
    key = model_key(cards, example_files, hyper)
    name = f"model-{key}.json"
    dirs = (PACKAGED_FITTED, *([cache_dir] if cache_dir else []))
    model = _load_first([d / name for d in dirs], lambda p: LocalModel.from_json(json.loads(p.read_text("utf-8"))))
    docs: list[Doc] | None = None
    if model is None:
        docs = training_docs(cards, load_many(example_files), hyper)
        model = fit(docs, sorted(cards), hyper)
        if cache_dir is not None:
            _quietly(lambda: write_model(cache_dir / name, model, keep=CACHE_KEEP))
    if semantic is None:
        return model
    from crossroads.router.semantic import SemanticTier, encoder_id

    sem_name = f"model-{key}.{encoder_id(semantic)}.npz"
    tier = _load_first([d / sem_name for d in dirs], SemanticTier.load)
    if tier is None or tier.classes != model.classes:
        docs = docs if docs is not None else training_docs(cards, load_many(example_files), hyper)
        tier = fit_semantic(docs, model.classes, semantic)
        if cache_dir is not None:
            _quietly(lambda: write_tier(cache_dir / sem_name, tier, keep=CACHE_KEEP))
    model.semantic = tier
    return model


def _load_first(paths: Sequence[Path], load: Callable[[Path], T]) -> T | None:
    for path in paths:
        if path.is_file():
            try:
                return load(path)
            except (OSError, ValueError, KeyError, TypeError, EOFError):
                pass  # a corrupt entry is refitted
    return None


def _quietly(write: Callable[[], None]) -> None:
    try:
        write()
    except OSError:
        pass  # a read-only cache only costs the refit next time


def write_tier(path: Path, tier: SemanticTier, *, keep: int) -> None:
    """Write the semantic tier, then keep only the `keep` newest tiers in that directory."""
    tier.save(path)
    _prune(path, "model-*.npz", keep)


def _prune(path: Path, pattern: str, keep: int) -> None:
    others = sorted((p for p in path.parent.glob(pattern) if p != path), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in others[max(0, keep - 1) :]:
        stale.unlink(missing_ok=True)


def write_model(path: Path, model: LocalModel, *, keep: int) -> None:
    """Write atomically, then keep only the `keep` newest fitted models in that directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(model.to_json(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)
    _prune(path, "model-*.json", keep)


class LocalRouter:
    """Routes with the local classifier: no network, sub-millisecond per question."""

    def __init__(self, model: LocalModel, settings: RouterSettings) -> None:
        self.model = model
        self.settings = settings

    @property
    def rule(self) -> Rule:
        s = self.settings
        return Rule(threshold=s.threshold, margin=s.margin, max_targets=s.max_targets, off_topic=s.off_topic_abstain)

    def scores(self, question: str) -> dict[str, float]:
        return self.model.confidences(question)

    def decide(self, question: str, rule: Rule | None = None) -> RouteDecision:
        t0 = time.perf_counter()
        rule = rule or self.rule
        scores, off_topic = self.model.assess(question)
        chosen = choose(scores, rule, off_topic)
        if chosen and len(chosen) < rule.max_targets:
            parts = segments(question)
            if len(parts) > 1:
                part_scores = [self.model.confidences(p) for p in parts]
                chosen = add_segment_owners(chosen, part_scores, rule, self.settings.split_confidence)
        subs = self.split(question, [n for n, _ in chosen]) if len(chosen) > 1 else {}
        targets = [RouteTarget(agent=n, confidence=round(s, 4), sub_question=subs.get(n, question)) for n, s in chosen]
        best = max(scores.values(), default=0.0)
        off = f", off-topic {off_topic:.2f}" if off_topic is not None else ""
        if targets:
            reason = f"local classifier: {', '.join(f'{t.agent} {t.confidence:.2f}' for t in targets)}"
            if best < rule.threshold:
                reason += f" (below the threshold {rule.threshold:.2f}, but not off-topic{off})"
        else:
            reason = f"no specialist reaches the threshold {rule.threshold:.2f} (best {best:.2f}{off})"
        return RouteDecision(
            targets=targets,
            abstain=not targets,
            stage="local",
            reason=reason,
            scores={n: round(s, 4) for n, s in sorted(scores.items(), key=lambda kv: -kv[1])},
            duration_ms=(time.perf_counter() - t0) * 1000,
        )

    def split(self, question: str, agents: Sequence[str]) -> dict[str, str]:
        """Each chosen specialist's part of a multi-domain question.

        A sentence goes to the chosen specialist it scores best for, and also to any other chosen
        one it is confident about; a specialist left with no sentence gets the whole question.
        """
        parts = segments(question)
        if len(parts) < 2:
            return {}
        owned: dict[str, list[str]] = {a: [] for a in agents}
        threshold = self.settings.threshold
        for part in parts:
            conf = self.model.confidences(part)
            best = max(agents, key=lambda a: conf[a])
            if conf[best] < 0.5 * threshold:
                continue  # no topical content ("Thanks in advance."): context only
            for agent in agents:
                if agent == best or conf[agent] >= threshold:
                    owned[agent].append(part)
        return {a: " ".join(p) for a, p in owned.items() if p and len(p) < len(parts)}

    async def route(self, question: str) -> RouteDecision:
        return self.decide(question)


def add_segment_owners(
    chosen: list[tuple[str, float]],
    part_scores: Sequence[Mapping[str, float]],
    rule: Rule,
    split_confidence: float,
) -> list[tuple[str, float]]:
    """A multi-part question whose parts belong to different specialists gets all of them.

    On the whole question, one domain's vocabulary drowns the other's; a sentence that on its own is
    confidently (>= `split_confidence`) another specialist's adds that specialist. A pure function of
    the scores, so threshold fitting can replay it.
    """
    have = {n for n, _ in chosen}
    extra: dict[str, float] = {}
    for conf in part_scores:
        best = max(conf, key=conf.__getitem__)
        if best not in have and conf[best] >= max(split_confidence, rule.threshold):
            extra[best] = max(extra.get(best, 0.0), conf[best])
    ranked = sorted(extra.items(), key=lambda kv: -kv[1])
    return (chosen + ranked)[: rule.max_targets]
