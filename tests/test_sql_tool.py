"""run_sql through the real sandbox: inline tables, several statements, bounds and errors."""

from __future__ import annotations

import pytest
from real_parts import missing

from crossroads.errors import InputError
from crossroads.tools.sql import MAX_CELL_CHARS, MAX_ROWS, run_sql, validate_tables
from crossroads.tools.toolbox import Toolbox

pytestmark = pytest.mark.anyio

PEOPLE = {
    "people": [
        {"name": "ann", "age": 31, "score": 2.5, "tags": ["a", "b"]},
        {"name": "bob", "age": 25, "score": None},
        {"name": "cy", "age": 40, "score": 7},
    ]
}


# The CLI tests come first: the CLI starts its own toolbox, so none of this module's may be alive yet.


@pytest.fixture(scope="module")
def cli():
    import structlog
    from typer.testing import CliRunner

    from crossroads.cli import app as cli_app

    cli_app._register_all()
    yield lambda *args, input=None: CliRunner().invoke(cli_app.app, list(args), input=input)
    structlog.reset_defaults()  # the CLI logs to CliRunner's stderr, which is closed afterwards


def test_cli_sql_reads_stdin_and_tables_file(cli, tmp_path) -> None:
    import json

    tables = tmp_path / "tables.json"
    tables.write_text(json.dumps(PEOPLE))
    result = cli("tool", "sql", "--tables", str(tables), input="select count(*) as n from people")
    if result.exit_code == 1 and '"unavailable"' in result.stdout:
        missing(f"sandbox tier unavailable here: {result.stderr.strip()}")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["rows"] == [[3]] and data["tier"] == "bwrap"
    bad_sql = cli("tool", "sql", "selec 1")
    assert bad_sql.exit_code == 0 and json.loads(bad_sql.stdout)["ok"] is False  # the tool ran


def test_cli_sql_bad_input_exits_2(cli, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"bad name": [{"a": 1}]}')
    assert cli("tool", "sql", "select 1", "--tables", str(bad)).exit_code == 2
    bad.write_text("{not json")
    assert cli("tool", "sql", "select 1", "--tables", str(bad)).exit_code == 2
    assert cli("tool", "sql", input="   ").exit_code == 2


async def test_inline_tables_with_inferred_types(toolbox: Toolbox) -> None:
    result = await toolbox.run_sql(
        "select name, typeof(age), typeof(score), tags from people order by age desc", PEOPLE
    )
    assert result.ok and result.tier == "bwrap" and result.error is None
    assert result.columns == ["name", "typeof(age)", "typeof(score)", "tags"]
    assert result.rows == [
        ["cy", "integer", "real", None],
        ["ann", "integer", "real", '["a", "b"]'],
        ["bob", "integer", "null", None],
    ]
    assert result.row_count == 3 and not result.truncated


async def test_several_statements_return_the_last_result(toolbox: Toolbox) -> None:
    query = "create table t(x int); insert into t values (1), (2), (3);\n"
    query += "select sum(x) as total, 'a;b' as s from t; -- done"
    result = await run_sql(toolbox, query)
    assert result.ok and result.columns == ["total", "s"] and result.rows == [[6, "a;b"]]


async def test_bad_sql_is_a_clear_error(toolbox: Toolbox) -> None:
    result = await run_sql(toolbox, "selec 1")
    assert not result.ok and result.error is not None and "syntax error" in result.error
    missing = await run_sql(toolbox, "select 1; select * from nowhere")
    assert not missing.ok and "statement 2 of 2" in (missing.error or "") and "no such table" in (missing.error or "")


async def test_rows_and_cells_are_bounded(toolbox: Toolbox) -> None:
    result = await run_sql(
        toolbox, "with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000) select x from c"
    )
    assert result.ok and len(result.rows) == MAX_ROWS and result.row_count == 1000 and result.truncated
    assert result.rows[-1] == [MAX_ROWS]
    wide = await run_sql(toolbox, "select printf('%.5000c', 'x') as s")
    assert wide.ok and wide.truncated and len(wide.rows[0][0]) == MAX_CELL_CHARS + 3


async def test_no_file_access_and_runaway_queries_stop(toolbox: Toolbox) -> None:
    attach = await run_sql(toolbox, "attach database '/tmp/x.db' as x; select 1")
    assert not attach.ok and "not authorized" in (attach.error or "")
    forever = await run_sql(
        toolbox, "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c", timeout=1.5
    )
    assert not forever.ok and forever.error is not None
    assert "time budget exceeded" in forever.error or "timed out" in forever.error


async def test_bad_tables_are_rejected_before_running(toolbox: Toolbox) -> None:
    result = await run_sql(toolbox, "select 1", {"bad name": [{"a": 1}]})
    assert not result.ok and result.error is not None and result.error.startswith("bad input")
    assert result.tier == "unavailable"  # nothing ran


@pytest.mark.parametrize(
    "tables",
    [[1, 2], {"t": []}, {"t": [1]}, {"t; drop": [{"a": 1}]}, {"t": [{"": 1}]}, {"t": [{"a": object()}]}],
)
def test_validate_tables_rejects(tables: object) -> None:
    with pytest.raises(InputError):
        validate_tables(tables)
