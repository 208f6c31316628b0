"""Reports of a scenario run: JUnit XML for CI, a JSON document, and the terminal summary.

JUnit follows the convention CI systems read: one `<testsuite>` per scenario file, `<failure>` for
failed assertions, `<error>` for runtime errors and malformed scenarios, `<skipped>` with its reason, and
route, path, tools and usage as `<properties>`.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from crossroads.testing.runner import Report, ScenarioOutcome

_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
JSON_REPORT_VERSION = 1


def _clean(text: str) -> str:
    return _XML_BAD.sub("?", text)


def _classname(file: str) -> str:
    return re.sub(r"\.ya?ml$", "", file).replace("/", ".").strip(".")


def junit_xml(report: Report) -> str:
    """The run as a JUnit XML document."""
    by_file: dict[str, list[ScenarioOutcome]] = defaultdict(list)
    for o in report.outcomes:
        by_file[o.file].append(o)
    broken: dict[str, list[Any]] = defaultdict(list)
    for e in report.load_errors:
        broken[e.file].append(e)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    root = ET.Element("testsuites", name="crossroads scenarios", time=f"{report.duration_s:.3f}")
    totals: dict[str, int] = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for file in sorted({*by_file, *broken}):
        outcomes, errors = by_file.get(file, []), broken.get(file, [])
        counts: dict[str, int] = {
            "tests": len(outcomes) + len(errors),
            "failures": sum(o.status == "failed" for o in outcomes),
            "errors": sum(o.status == "error" for o in outcomes) + len(errors),
            "skipped": sum(o.status == "skipped" for o in outcomes),
        }
        for k, v in counts.items():
            totals[k] += v
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": file,
                "timestamp": stamp,
                "hostname": socket.gethostname(),
                "time": f"{sum(o.duration_ms for o in outcomes) / 1000:.3f}",
                **{k: str(v) for k, v in counts.items()},
            },
        )
        for o in outcomes:
            _testcase(suite, o)
        for e in errors:
            case = ET.SubElement(
                suite, "testcase", classname=_classname(file), name=e.scenario or "(file)", file=file, time="0"
            )
            ET.SubElement(case, "error", type="ScenarioError", message=_clean(str(e))).text = _clean(str(e))
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, o: ScenarioOutcome) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=_classname(o.file), name=o.id, file=o.file, time=f"{o.duration_ms / 1000:.3f}"
    )
    props = ET.SubElement(case, "properties")
    for name, value in (
        ("description", o.description),
        ("tags", ",".join(o.tags)),
        ("route", "abstain" if o.abstain else ",".join(o.route)),
        ("handoff_path", " -> ".join(o.handoff_path)),
        ("tool_calls", ",".join(o.tool_calls)),
        ("model_requests", str(o.requests)),
        ("tokens", str(o.tokens)),
        ("cassette", o.cassette or ""),
    ):
        if value:
            ET.SubElement(props, "property", name=name, value=_clean(value))
    first = _clean(o.message.splitlines()[0]) if o.message else ""
    if o.status == "failed":
        ET.SubElement(case, "failure", type="AssertionFailure", message=first).text = _clean(o.message)
    elif o.status == "error":
        ET.SubElement(case, "error", type="RunError", message=first).text = _clean(o.message)
    elif o.status == "skipped":
        ET.SubElement(case, "skipped", message=first)
    if o.answer:
        ET.SubElement(case, "system-out").text = _clean(o.answer)


def json_report(report: Report) -> dict[str, Any]:
    """The run as one JSON document (summary, every scenario with its assertions, load errors)."""
    return {
        "version": JSON_REPORT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": report.mode,
        "duration_s": round(report.duration_s, 3),
        "summary": {
            "total": len(report.outcomes) + len(report.load_errors),
            **{s: report.count(s) for s in ("passed", "failed", "error", "skipped")},
            "load_errors": len(report.load_errors),
            "exit_code": report.exit_code,
        },
        "scenarios": [o.model_dump(mode="json") for o in report.outcomes],
        "load_errors": [
            {"file": e.file, "scenario": e.scenario, "field": e.field, "message": str(e)} for e in report.load_errors
        ],
    }


def print_summary(report: Report, console: Any, slowest: int = 5) -> None:
    """Per-file table, failures with expected vs actual, the slowest scenarios, the totals."""
    from rich.markup import escape
    from rich.table import Table

    for e in report.load_errors:
        console.print(f"[bold red]malformed:[/] {escape(str(e))}")
    for o in report.outcomes:
        if o.status in ("failed", "error"):
            label = "FAIL" if o.status == "failed" else "ERROR"
            console.print(f"[bold red]{label}[/] {escape(o.file)}::{escape(o.id)}")
            for line in o.message.splitlines():
                console.print(f"    {escape(line)}", highlight=False)
    table = Table(title="scenarios", title_justify="left")
    for col in ("file", "passed", "failed", "error", "skipped", "time (s)"):
        table.add_column(col, justify="left" if col == "file" else "right")
    files = sorted({o.file for o in report.outcomes} | {e.file for e in report.load_errors})
    for f in files:
        mine = [o for o in report.outcomes if o.file == f]
        bad = sum(e.file == f for e in report.load_errors)
        table.add_row(
            escape(f),
            *(str(sum(o.status == s for o in mine)) for s in ("passed", "failed")),
            str(sum(o.status == "error" for o in mine) + bad),
            str(sum(o.status == "skipped" for o in mine)),
            f"{sum(o.duration_ms for o in mine) / 1000:.1f}",
        )
    console.print(table)
    ranked = sorted(report.outcomes, key=lambda o: o.duration_ms, reverse=True)[:slowest]
    if ranked:
        console.print(
            "slowest: " + ", ".join(f"{escape(o.id)} {o.duration_ms / 1000:.2f}s" for o in ranked), highlight=False
        )
    colour = "red" if report.exit_code else "green"
    console.print(
        f"[bold {colour}]{report.count('passed')} passed, {report.count('failed')} failed, "
        f"{report.count('error') + len(report.load_errors)} errors, {report.count('skipped')} skipped"
        f"[/] in {report.duration_s:.1f}s",
        highlight=False,
    )
