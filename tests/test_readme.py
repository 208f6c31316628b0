"""The README's commands and examples stay true."""

import re
from pathlib import Path

from crossroads.testing.scenario import load_file

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_fresh_machine_commands_come_first_and_ci_runs_the_test_command() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.DOTALL)
    install_and_ask, install_and_test = blocks[0], blocks[1]
    assert "crossroads ask" in install_and_ask and "setup-sandbox" in install_and_ask
    test_command = install_and_test.split("&& ")[-1].replace(".venv/bin/", "")
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command.strip() in ci.replace(".venv/bin/", "")


def test_scenario_example_is_a_valid_scenario(tmp_path: Path) -> None:
    example = re.search(r"```yaml\n(tests:.*?)\n```", README, re.DOTALL)
    assert example
    path = tmp_path / "example.yaml"
    path.write_text(example.group(1))
    scenarios, errors = load_file(path)
    assert not errors and [s.id for s in scenarios] == ["k8s-and-drift"]
