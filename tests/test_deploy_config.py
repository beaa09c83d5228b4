"""The Streamlit settings shipped for deployed use (``.streamlit/config.toml`` beside the app):
every option exists in the installed Streamlit with an allowed value, and Streamlit reads them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib
from streamlit import config

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / ".streamlit" / "config.toml"
WANTED = {
    "client.showErrorDetails": "none",  # not False: that is a deprecated alias of "stacktrace"
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": False,
    # a full garbage collection after every run cost most of the server's CPU per judgment
    "runner.postScriptGC": False,
}


def _options() -> dict[str, object]:
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    return {
        f"{section}.{name}": value
        for section, values in settings.items()
        for name, value in values.items()
    }


def test_the_shipped_settings_are_the_deployed_ones() -> None:
    options = _options()
    assert {k: options.get(k) for k in WANTED} == WANTED
    known = config._config_options_template
    for key, value in options.items():
        assert key in known, f"{CONFIG.name}: {key} is not a Streamlit option"
        assert isinstance(value, type(known[key].default_val)), key
    for key in ("client.showErrorDetails", "client.toolbarMode"):
        assert f'"{options[key]}"' in known[key].description, f"{key}: not an allowed value"


def test_streamlit_reads_them() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    lines = {line.strip() for line in shown.splitlines()}
    assert 'showErrorDetails = "none"' in lines
    assert 'toolbarMode = "minimal"' in lines
    assert "gatherUsageStats = false" in lines
