"""`install_model`: `camhub models install NAME` asks the plugins; the one that knows NAME
installs it into `<data dir>/models`, and a failure is printed, not a traceback."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hub.cli.commands import main

TOY_MODEL = b"toy model weights"
PLUGIN = f"""
import os

from hub.hookspecs import hookimpl


@hookimpl
def install_model(name, models_dir):
    if name == "broken":
        raise ValueError("checksum mismatch: expected {"0" * 8}")
    if name != "toy":
        return None
    partial = models_dir / "toy.onnx.partial"
    partial.write_bytes({TOY_MODEL!r})
    os.replace(partial, models_dir / "toy.onnx")
    return models_dir / "toy.onnx"
"""


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "local_plugins"
    folder.mkdir()
    (folder / "toy_models.py").write_text(PLUGIN, encoding="utf-8")
    config = tmp_path / "config.yaml"
    # face_blur is switched off: its `centerface` is not what these tests are about.
    config.write_text(f"plugins_dir: {folder}\nplugins:\n  disabled: [face_blur]\n")
    return config, tmp_path / "data"


def test_the_plugin_that_knows_the_name_installs_it_in_the_data_dir(tmp_path, capsys):
    config, data = _setup(tmp_path)
    code = main(["models", "install", "toy", "--config", str(config), "--data", str(data)])
    out = capsys.readouterr().out
    assert code == 0
    installed = data / "models" / "toy.onnx"
    assert f"toy: installed at {installed}" in out
    assert hashlib.sha256(installed.read_bytes()).digest() == hashlib.sha256(TOY_MODEL).digest()
    assert not list((data / "models").glob("*.partial"))


def test_an_unknown_name_is_an_error(tmp_path, capsys):
    config, data = _setup(tmp_path)
    code = main(["models", "install", "nosuch", "--config", str(config), "--data", str(data)])
    assert code == 1
    assert "no plugin provides a model called 'nosuch'" in capsys.readouterr().err


def test_a_failing_install_prints_the_plugins_message(tmp_path, capsys):
    config, data = _setup(tmp_path)
    code = main(["models", "install", "broken", "--config", str(config), "--data", str(data)])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken: toy_models: ValueError: checksum mismatch: expected 00000000" in err
    assert not (data / "models" / "broken.onnx").exists()
