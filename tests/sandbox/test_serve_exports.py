"""`reconciler sandbox serve` prints lines a shell can take as they are: `export` lines with
the endpoints and the public sandbox credentials, quoted, so pasting them is enough."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from reconciler.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN

REPO = Path(__file__).parents[2]


def test_serve_prints_export_lines_a_shell_accepts() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAZON_ADS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sandbox", "serve", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or "AMAZON_ADS_CLIENT_ID" not in lines[-1]:
            line = process.stdout.readline()
            assert line, "serve exited before printing AMAZON_ADS_CLIENT_ID"
            lines.append(line.rstrip("\n"))
        assert process.stderr is not None
        hint = process.stderr.readline()  # written after the export lines
        serving = process.stderr.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    assert all(line.startswith("export AMAZON_ADS_") for line in lines), lines
    assert "paste the export lines above into another shell" in hint
    assert serving == (
        "# serving the sandbox world 'demo' from the built-in demo seed, in memory (not saved)\n"
    )
    # What a user's shell makes of them, pasted as printed.
    script = "\n".join([*lines, 'printf "%s\\n" "$AMAZON_ADS_CLIENT_ID" \\'])
    script += (
        '\n  "$AMAZON_ADS_CLIENT_SECRET" "$AMAZON_ADS_REFRESH_TOKEN" "$AMAZON_ADS_API_URL_EU"\n'
    )
    shell = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    client_id, secret, refresh, eu = shell.stdout.splitlines()
    assert (client_id, secret, refresh) == (
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        SANDBOX_REFRESH_TOKEN,
    )
    assert eu.startswith("http://127.0.0.1:")
