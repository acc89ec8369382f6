"""Configuration mistakes end in one line naming the variable or flag and the fix, exit 1
(64 for a bad command line), never a traceback and never a password."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_ERROR, EXIT_USAGE
from reconciler.model import Region
from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    World,
)
from reconciler.sandbox.server import Endpoints, SandboxServer

EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples" / "manifests")
PASSWORD = "P4ssw0rd"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return int(stop.value.code or 0), out, err


@pytest.fixture
def served() -> Iterator[Endpoints]:
    server = SandboxServer(World.default(), host="127.0.0.1", port=0)
    endpoints = server.start()
    try:
        yield endpoints
    finally:
        server.stop()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, served: Endpoints) -> pytest.MonkeyPatch:
    """Working credentials for the served sandbox; each test breaks one variable."""
    monkeypatch.setenv("AMAZON_ADS_CLIENT_ID", SANDBOX_CLIENT_ID)
    monkeypatch.setenv("AMAZON_ADS_CLIENT_SECRET", SANDBOX_CLIENT_SECRET)
    monkeypatch.setenv("AMAZON_ADS_REFRESH_TOKEN", SANDBOX_REFRESH_TOKEN)
    monkeypatch.setenv("AMAZON_ADS_TOKEN_URL", served.token_url)
    for region, url in served.api_urls.items():
        monkeypatch.setenv(f"AMAZON_ADS_API_URL_{region.value}", url)
    return monkeypatch


def na_port(served: Endpoints) -> str:
    return served.api_urls[Region.NA].rsplit(":", 1)[1]


def test_the_served_sandbox_works_with_these_variables(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "plan", EXAMPLES)[0] in (0, 2)


def test_a_password_in_an_api_url_is_never_echoed(
    env: pytest.MonkeyPatch, served: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("AMAZON_ADS_API_URL_NA", f"http://svc:{PASSWORD}@127.0.0.1:{na_port(served)}")
    code, out, err = run(capsys, "plan", EXAMPLES)
    assert code == EXIT_ERROR
    assert PASSWORD not in out + err
    assert err == (
        f"Error: AMAZON_ADS_API_URL_NA: 'http://***@127.0.0.1:{na_port(served)}' must not carry "
        "user info (user:password@): remove it; credentials go in AMAZON_ADS_CLIENT_ID, "
        "AMAZON_ADS_CLIENT_SECRET and AMAZON_ADS_REFRESH_TOKEN\n"
    )


@pytest.mark.parametrize("port", ["85001", "abc", "0"])
def test_a_port_typo_names_the_variable_and_the_fix(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], port: str
) -> None:
    env.setenv("AMAZON_ADS_API_URL_EU", f"http://127.0.0.1:{port}")
    code, _, err = run(capsys, "plan", EXAMPLES)
    assert code == EXIT_ERROR
    assert err == (
        f"Error: AMAZON_ADS_API_URL_EU: 'http://127.0.0.1:{port}' has port {port!r}, which is "
        "not a number from 1 to 65535; fix the port, or leave it out for the scheme's default\n"
    ).replace("port '0'", "port 0")


def test_a_url_without_a_scheme_names_the_variable_and_the_fix(
    env: pytest.MonkeyPatch, served: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("AMAZON_ADS_TOKEN_URL", "127.0.0.1:8400/auth/o2/token")
    code, _, err = run(capsys, "plan", EXAMPLES)
    assert code == EXIT_ERROR
    assert err == (
        "Error: AMAZON_ADS_TOKEN_URL: '127.0.0.1:8400/auth/o2/token' has no scheme; write it as "
        "https://127.0.0.1:8400 (or http:// for a loopback host such as `reconciler sandbox "
        "serve`)\n"
    )


@pytest.mark.parametrize(
    ("variable", "value", "kind"),
    [
        ("AMAZON_ADS_CLIENT_SECRET", f"{PASSWORD}\x1b[2K", "a control character"),
        ("AMAZON_ADS_REFRESH_TOKEN", f"Atzr|{PASSWORD} more", "a space"),
        ("AMAZON_ADS_CLIENT_ID", "amzn1.application-oa2-client.é", "a non-ASCII character"),
    ],
)
def test_a_malformed_credential_names_the_variable_not_the_value(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    kind: str,
) -> None:
    env.setenv(variable, value)
    code, out, err = run(capsys, "plan", EXAMPLES)
    assert code == EXIT_ERROR
    assert PASSWORD not in out + err
    assert err == (
        f"Error: {variable} contains {kind}; copy the value again without it (it is a single "
        "token of printable ASCII characters)\n"
    )


def test_a_404_from_the_token_url_says_to_check_it(
    env: pytest.MonkeyPatch, served: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = served.token_url.replace("/auth/o2/token", "/auth/token")
    env.setenv("AMAZON_ADS_TOKEN_URL", wrong)
    code, out, err = run(capsys, "plan", EXAMPLES)
    assert code == EXIT_ERROR
    assert err.count("\n") == 1 and SANDBOX_CLIENT_SECRET not in out + err
    assert err.startswith(f"Error: lwaRefreshToken (POST {wrong}) failed: HTTP 404")
    assert err.endswith(
        f"{wrong} is not a Login with Amazon token endpoint: check AMAZON_ADS_TOKEN_URL "
        "(default https://api.amazon.com/auth/o2/token; for `reconciler sandbox serve`, the "
        "AMAZON_ADS_TOKEN_URL line it prints)\n"
    )


# --- reconciler sandbox ... --url / serve --port ------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("command", [["show"], ["advance-clock", "1h"], ["reset"]])
def test_an_unreachable_url_is_one_line(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    code, _, err = run(capsys, "sandbox", *command, "--url", url)
    assert code == EXIT_ERROR
    assert err == (
        f"Error: cannot reach the sandbox at {url!r} (ConnectError): is `reconciler sandbox "
        "serve` running there? Check --url against the URLs it printed.\n"
    )


def test_a_url_without_a_scheme_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sandbox", "show", "--url", "127.0.0.1:8400")
    assert code == EXIT_ERROR
    assert err == (
        "Error: --url '127.0.0.1:8400' is not an http:// URL; give one that `reconciler sandbox "
        "serve` printed, e.g. http://127.0.0.1:8400\n"
    )


def test_show_url_works_on_a_running_server(
    served: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "sandbox", "show", "--url", served.api_urls[Region.NA] + "/")
    assert code == 0 and '"amzn1.ads1.ma1.acme00000001"' in out


def test_serve_on_a_busy_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(capsys, "sandbox", "serve", "--port", str(port))
    assert code == EXIT_ERROR
    assert err == (
        f"Error: cannot serve the sandbox on 127.0.0.1, port {port}: Address already in use. It "
        "uses 4 consecutive ports from --port: choose another --port, or 0 for any free ports.\n"
    )


def test_serve_on_a_port_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sandbox", "serve", "--port", "85001")
    assert code == EXIT_USAGE and "85001 is not in the range 0<=x<=65532" in err


def test_a_password_in_the_sandbox_url_is_never_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://svc:{PASSWORD}@127.0.0.1:{_free_port()}"
    code, out, err = run(capsys, "sandbox", "show", "--url", url)
    assert code == EXIT_ERROR and PASSWORD not in out + err
    assert "cannot reach the sandbox at 'http://***@127.0.0.1:" in err
