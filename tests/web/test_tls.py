"""`server.tls`: a real `camhub run` serving HTTPS with a self-signed certificate."""

from __future__ import annotations

import http.client
import json
import signal
import ssl
import subprocess

import pytest

from tests.conftest import free_port
from tests.helpers import self_signed_certificate
from tests.hub.cli.test_cli_run import CAMHUB, start, wait_for_line

PASSWORD = "correct horse battery"


def test_https_with_a_self_signed_certificate_and_secure_cookies(tmp_path, write_config):
    cert, key = self_signed_certificate(tmp_path, "camhub")
    port = free_port()
    # Relative paths: read from the config file's folder.
    config = write_config(
        f"server:\n  port: {port}\n  tls:\n    cert: {cert.name}\n    key: {key.name}\n"
    )
    data = str(tmp_path / "data")
    made = subprocess.run(
        [CAMHUB, "user", "add", "root", "--role", "admin", "--data", data, "--config", str(config)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    process = start(["run", "--config", str(config), "--data", data])
    try:
        lines = wait_for_line(process, "panel at")
        assert "panel at https://" in lines[-1] and f":{port}  (Ctrl+C" in lines[-1]
        trusting = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=trusting, timeout=10)
        conn.request(
            "POST",
            "/api/auth/login",
            body=json.dumps({"username": "root", "password": PASSWORD}),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.status == 200
        cookie = response.getheader("Set-Cookie")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        response.read()
        conn.close()
        # A client that does not trust the certificate refuses it: nothing is sent in clear.
        strict = http.client.HTTPSConnection(
            "127.0.0.1", port, context=ssl.create_default_context(), timeout=10
        )
        with pytest.raises(ssl.SSLCertVerificationError):
            strict.request("GET", "/api/health")
        strict.close()
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/api/health")
            plain.getresponse()
        plain.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    assert process.returncode == 0


def test_a_missing_or_wrong_key_file_is_one_clear_error(tmp_path, write_config):
    cert, _ = self_signed_certificate(tmp_path, "camhub")
    (tmp_path / "other").mkdir()
    _, other_key = self_signed_certificate(tmp_path / "other", "camhub")
    missing = write_config(
        f"server:\n  port: {free_port()}\n  tls:\n    cert: {cert}\n    key: /nonexistent/k.pem\n"
    )
    result = subprocess.run(
        [CAMHUB, "run", "--config", str(missing), "--data", str(tmp_path / "d1")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "server.tls: cannot read /nonexistent/k.pem" in result.stderr
    mismatched = write_config(
        f"server:\n  port: {free_port()}\n  tls:\n    cert: {cert}\n    key: {other_key}\n"
    )
    result = subprocess.run(
        [CAMHUB, "run", "--config", str(mismatched), "--data", str(tmp_path / "d2")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "are not a PEM certificate and its key" in result.stderr
    assert "Traceback" not in result.stderr
    half = write_config(f"server:\n  tls:\n    cert: {cert}\n")
    result = subprocess.run(
        [CAMHUB, "check-config", str(half)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1 and "set both server.tls.cert and server.tls.key" in result.stderr
