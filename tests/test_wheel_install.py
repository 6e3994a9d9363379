"""`pip install` of the built wheel into a fresh venv gives a working hub with its panel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile

from tests.conftest import REPO, free_port

# .cache holds scripts/arm64_check.sh's arm64 root: 500 MB, with links to the host's files.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".cache",
    "camhub-data",
)


# Only the installed package may answer: no PYTHONPATH pointing at a checkout.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env=CLEAN_ENV, **kwargs
    )
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_wheel_installs_into_fresh_venv_and_serves_the_panel(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ]
    )
    wheel = next((tmp_path / "dist").glob("camhub-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"web/static/index.html", "web/static/app.js", "web/static/style.css"} <= set(names)
    # The bundled COCO detector, with its labels and licence notice.
    models = "plugins/onnx_detector/models/"
    assert {
        f"{models}ssd_mobilenet_v3_large_coco.onnx",
        f"{models}ssd_mobilenet_v3_large_coco.labels.txt",
        f"{models}NOTICE.md",
        f"{models}LICENSE-Apache-2.0.txt",
    } <= set(names)
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    # No .pyc for the dependencies: a third of the install's time, and nothing this test checks.
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--no-compile"]
    run([*pip, "--disable-pip-version-check", str(wheel)])

    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"server:\n  port: {port}\n")
    # Run from a folder without the sources, so only the installed package can answer.
    process = subprocess.Popen(
        [
            str(venv / "bin" / "camhub"),
            "run",
            "--config",
            str(config),
            "--data",
            str(tmp_path / "d"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=CLEAN_ENV,
    )
    try:
        # The port answers as soon as the site is up; the hub reports "ok" once started.
        deadline = time.monotonic() + 60
        status, body = 0, b""
        while time.monotonic() < deadline and b'"status": "ok"' not in body:
            try:
                status, body = fetch(f"http://127.0.0.1:{port}/api/health")
            except OSError:
                assert process.poll() is None, process.communicate()[0]
            time.sleep(0.2)
        assert status == 200 and b'"status": "ok"' in body
        status, page = fetch(f"http://127.0.0.1:{port}/")
        assert status == 200 and b"/static/app.js" in page
        status, script = fetch(f"http://127.0.0.1:{port}/static/app.js")
        assert status == 200 and len(script) > 100
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output
    installed = run(
        [str(venv / "bin" / "python"), "-c", "import hub; print(hub.__file__)"], cwd=tmp_path
    )
    assert str(venv) in installed.stdout
