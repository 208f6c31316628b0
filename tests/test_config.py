from pathlib import Path

import pytest

from crossroads.config import load_settings
from crossroads.errors import ConfigError


def test_packaged_defaults() -> None:
    s = load_settings()
    assert s.model == "offline" and s.router.mode == "cascade" and s.limits.max_hops == 3


def test_precedence_file_then_env_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('model = "anthropic:claude-x"\ntimeout = 30\n[router]\nmode = "llm"\nthreshold = 0.5\n')
    s = load_settings(cfg)
    assert (s.model, s.timeout, s.router.mode, s.router.threshold) == ("anthropic:claude-x", 30, "llm", 0.5)
    assert s.router.max_targets == 3  # untouched keys keep the packaged default
    monkeypatch.setenv("CROSSROADS_TIMEOUT", "12")
    monkeypatch.setenv("CROSSROADS_ROUTER__MODE", "local")
    s = load_settings(cfg)
    assert (s.timeout, s.router.mode, s.router.threshold) == (12, "local", 0.5)
    s = load_settings(cfg, timeout=5.0)
    assert s.timeout == 5.0


def test_default_user_config_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "crossroads").mkdir()
    (tmp_path / "crossroads" / "config.toml").write_text("[limits]\nmax_hops = 1\n")
    assert load_settings().limits.max_hops == 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("model = ", "not valid TOML"),
        ("[limits]\nmax_hops = -1\n", "limits.max_hops"),
        ("[router]\nmode = 'psychic'\n", "router.mode"),
        ("tyop = 1\n", "tyop"),
    ],
)
def test_malformed_config_is_a_clear_error(tmp_path: Path, text: str, fragment: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(cfg)


def test_named_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml")


def test_bad_env_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSROADS_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="timeout"):
        load_settings()


def test_packaged_defaults_file_agrees_with_the_models() -> None:
    """defaults.toml is what ships; the models' own defaults (used by code that builds them directly,
    e.g. benchmarks) must not drift from it."""
    from crossroads.config import (
        DEFAULT_MODEL_ALIASES,
        LimitsSettings,
        McpSettings,
        RouterSettings,
        SandboxSettings,
        Settings,
    )

    s = load_settings()
    assert s.router == RouterSettings()
    assert s.limits == LimitsSettings()
    assert s.sandbox == SandboxSettings()
    assert s.mcp == McpSettings()
    assert (
        s.model_aliases
        == DEFAULT_MODEL_ALIASES
        == Settings.model_fields["model_aliases"].get_default(call_default_factory=True)
    )
    assert (s.builtin_cards, s.strict_cards) == (True, False)
