"""Starting the app: Gradio's environment variables, and a taken port as one line before the model loads."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

import app
from tests.app.conftest import ROOT


def test_gradio_s_variables_set_host_and_port_and_flags_win(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    monkeypatch.setenv("CADENZA_PORT", "7000")
    args = app.parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7999)
    assert app.parse_args(["--port", "8001"]).port == 8001
    monkeypatch.setenv("GRADIO_SERVER_PORT", "eighty")
    with pytest.raises(SystemExit) as exit_:
        app.parse_args([])
    assert exit_.value.code == 2


def test_a_taken_port_is_one_line_before_the_model_loads(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--model", str(tmp_path / "none")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot serve on 127.0.0.1:{port}" in lines[0] and "--port N" in lines[0]
