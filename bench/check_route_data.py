"""Check the labelled routing examples: valid JSON, known labels, minimum counts, no duplicates.

Run from the repository root: `python bench/check_route_data.py`. Exits 1 on any problem so the
files can be checked in CI as they grow.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

SPECIALISTS = ("data-ai", "cloud-infra", "language", "architecture-security", "core-dev")
FILES = (Path("crossroads/router/examples/train.jsonl"), Path("bench/data/route_test.jsonl"))
MINIMUMS = {**{name: 80 for name in SPECIALISTS}, "multi": 90, "multi-3": 20, "off-topic": 50}


def category(labels: list[str]) -> str:
    """Single specialist name, `multi`, or `off-topic`; the unit the minimums and split are stated in."""
    if not labels:
        return "off-topic"
    return labels[0] if len(labels) == 1 else "multi"


def check(root: Path) -> list[str]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    per_file: dict[str, Counter[str]] = {}
    total: Counter[str] = Counter()
    pairs: Counter[frozenset[str]] = Counter()
    for rel in FILES:
        counts: Counter[str] = Counter()
        for n, line in enumerate((root / rel).read_text(encoding="utf-8").splitlines(), 1):
            where = f"{rel}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc})")
                continue
            if set(row) != {"question", "labels"}:
                problems.append(f"{where}: keys must be question and labels, got {sorted(row)}")
                continue
            question, labels = row["question"], row["labels"]
            if not isinstance(question, str) or not question.strip():
                problems.append(f"{where}: empty question")
            if not isinstance(labels, list) or any(label not in SPECIALISTS for label in labels):
                problems.append(f"{where}: unknown label in {labels!r}")
                continue
            if len(set(labels)) != len(labels) or len(labels) > 3:
                problems.append(f"{where}: repeated or too many labels {labels!r}")
            key = " ".join(question.lower().split())
            if key in seen:
                problems.append(f"{where}: duplicate of {seen[key]}")
            seen[key] = where
            cat = category(labels)
            counts[cat] += 1
            if len(labels) == 3:
                counts["multi-3"] += 1
            if len(labels) >= 2:
                for i, a in enumerate(labels):
                    for b in labels[i + 1 :]:
                        pairs[frozenset((a, b))] += 1
        per_file[str(rel)] = counts
        total.update(counts)
    for name, minimum in MINIMUMS.items():
        if total[name] < minimum:
            problems.append(f"{name}: {total[name]} examples, need at least {minimum}")
        for rel, counts in per_file.items():
            if counts[name] == 0:
                problems.append(f"{name}: missing from {rel}")
    for i, a in enumerate(SPECIALISTS):
        for b in SPECIALISTS[i + 1 :]:
            if pairs[frozenset((a, b))] == 0:
                problems.append(f"pair {a}+{b}: no multi-domain example")
    header = f"{'category':24}" + "".join(f"{Path(r).name:>18}" for r in per_file) + f"{'total':>8}"
    print(header)
    for name in MINIMUMS:
        print(f"{name:24}" + "".join(f"{c[name]:>18}" for c in per_file.values()) + f"{total[name]:>8}")
    lines = sum(total[c] for c in (*SPECIALISTS, "multi", "off-topic"))
    print(
        f"{'lines':24}"
        + "".join(f"{sum(c[k] for k in (*SPECIALISTS, 'multi', 'off-topic')):>18}" for c in per_file.values())
        + f"{lines:>8}"
    )
    shown = sorted(("+".join(sorted(pair)), n) for pair, n in pairs.items())
    print("pairs: " + ", ".join(f"{name}={n}" for name, n in shown))
    return problems


def main() -> int:
    problems = check(Path.cwd())
    for problem in problems:
        print("PROBLEM", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
