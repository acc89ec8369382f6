"""A served sandbox's clock is asked for only where the configuration proves a sandbox (its
public credentials, loopback hosts only); anything else is never asked, and what a
sandbox answers is checked before it decides any expiry."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reconciler.errors import ConfigError
from reconciler.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN
from reconciler.workflows.served import clock, sandbox_at, served_clock

NAMED = "which AMAZON_ADS_TOKEN_URL names with the sandbox's public credentials"


class Fake:
    """A loopback HTTP server that answers every request with `status` and `body`, and
    records the paths it was asked for."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.paths.append(self.path)
                self.send_response(fake.status)
                for name, value in fake.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            do_POST = do_GET  # the control API's operations: the same canned answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[Fake]:
    server = Fake()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def sandbox_env(url: str) -> dict[str, str]:
    """What `reconciler sandbox serve` prints, with every URL at `url`."""
    return {
        "AMAZON_ADS_CLIENT_ID": SANDBOX_CLIENT_ID,
        "AMAZON_ADS_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "AMAZON_ADS_REFRESH_TOKEN": SANDBOX_REFRESH_TOKEN,
        "AMAZON_ADS_TOKEN_URL": f"{url}/auth/o2/token",
        "AMAZON_ADS_API_URL_NA": url,
        "AMAZON_ADS_API_URL_EU": url,
        "AMAZON_ADS_API_URL_FE": url,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "change",
    [
        {"AMAZON_ADS_CLIENT_ID": "amzn1.application-oa2-client.0123456789abcdef"},
        {"AMAZON_ADS_CLIENT_SECRET": "a-real-secret"},
        {"AMAZON_ADS_REFRESH_TOKEN": "Atzr|a-real-refresh-token"},
        {"AMAZON_ADS_API_URL_EU": "https://advertising-api-eu.amazon.com"},
        {"AMAZON_ADS_TOKEN_URL": "https://api.amazon.com/auth/o2/token"},
        {"AMAZON_ADS_API_URL_NA": "https://127.0.0.1.evil.example"},
        {"AMAZON_ADS_API_URL_NA": "https://localhost.evil.example:8401"},
        {"AMAZON_ADS_API_URL_FE": "https://advertising-api-fe.amazon.com.localhost.example"},
        {"AMAZON_ADS_API_URL_EU": "https://advertising-api-eu.amazon.com.localhost"},
    ],
    ids=[
        "another-client",
        "another-secret",
        "another-refresh-token",
        "an-amazon-host",
        "amazon-token-url",
        "look-alike-ip",
        "look-alike-localhost",
        "look-alike-amazon",
        "dns-placed-localhost",
    ],
)
def test_no_clock_is_asked_of_what_is_not_proven_a_sandbox(
    fake: Fake, change: dict[str, str]
) -> None:
    env = {**sandbox_env(fake.url), **change}
    assert sandbox_at(env) is None
    assert served_clock(env) is None
    assert fake.paths == []  # never asked


def test_the_real_api_with_the_sandbox_credentials_is_never_asked() -> None:
    # No URL variables: Amazon's hosts. The network guard fails loudly on any attempt.
    env = {
        k: v for k, v in sandbox_env("x").items() if not k.endswith(("_URL", "_NA", "_EU", "_FE"))
    }
    assert set(env) == {
        "AMAZON_ADS_CLIENT_ID",
        "AMAZON_ADS_CLIENT_SECRET",
        "AMAZON_ADS_REFRESH_TOKEN",
    }
    assert sandbox_at(env) is None
    assert served_clock(env) is None


def test_without_credentials_there_is_no_sandbox_and_no_error() -> None:
    assert sandbox_at({}) is None
    assert served_clock({}) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.8.9.10"])
def test_a_sandbox_on_a_loopback_host_is_found(host: str) -> None:
    url = f"http://{host}:8401"
    assert sandbox_at(sandbox_env(url)) == url


def test_a_malformed_variable_with_the_sandbox_credentials_is_the_clients_error() -> None:
    env = {**sandbox_env("http://127.0.0.1:8401"), "AMAZON_ADS_API_URL_EU": "http://127.0.0.1:0"}
    with pytest.raises(ConfigError) as caught:
        sandbox_at(env)
    assert str(caught.value).startswith("AMAZON_ADS_API_URL_EU: 'http://127.0.0.1:0' has port 0")


@pytest.mark.parametrize("body", [b'{"now": 1790000000.25}', b'{"now": 1790000000}'])
def test_the_served_clock_is_read(fake: Fake, body: bytes) -> None:
    fake.body = body
    assert served_clock(sandbox_env(fake.url)) in (1790000000.25, 1790000000.0)
    assert fake.paths == ["/_sandbox/clock"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b'{"now": "soon"}'),
        (200, b'{"now": NaN}'),
        (200, b'{"now": Infinity}'),
        (200, b'{"now": 1e400}'),
        (200, b'{"now": -1}'),
        (200, b'{"now": 253402300800}'),
        (200, b'{"now": true}'),
        (200, b'{"now": [1790000000]}'),
        (200, b"[1790000000]"),
        (200, b"[" * 100_000),
        (200, b"<html>a gateway's page</html>"),
        (500, b'{"now": 1790000000}'),
        (404, b'{"now": 1790000000}'),
    ],
)
def test_a_hostile_or_broken_clock_is_refused_in_one_line(
    fake: Fake, status: int, body: bytes
) -> None:
    fake.status, fake.body = status, body
    with pytest.raises(ConfigError) as caught:
        served_clock(sandbox_env(fake.url))
    assert str(caught.value) == (
        f"'{fake.url}' answered HTTP {status} without the sandbox's clock (epoch seconds "
        f'under "now"), {NAMED}: point the AMAZON_ADS_* variables at a `reconciler sandbox '
        "serve` (the export lines it prints)"
    )


def test_the_time_is_asked_of_the_token_urls_host_alone(fake: Fake) -> None:
    elsewhere = Fake()
    elsewhere.start()
    try:
        fake.body = b'{"now": 1790000000}'
        elsewhere.body = b'{"now": 1}'
        env = {**sandbox_env(elsewhere.url), "AMAZON_ADS_TOKEN_URL": f"{fake.url}/auth/o2/token"}
        assert sandbox_at(env) == fake.url
        assert served_clock(env) == 1790000000.0
    finally:
        elsewhere.stop()
    assert (fake.paths, elsewhere.paths) == (["/_sandbox/clock"], [])


def test_a_redirect_is_not_followed_for_the_time(fake: Fake) -> None:
    fake.status, fake.body = 302, b'{"now": 1790000000}'
    fake.headers["Location"] = "https://advertising-api.amazon.com/_sandbox/clock"
    with pytest.raises(ConfigError, match="answered HTTP 302 without the sandbox's clock"):
        served_clock(sandbox_env(fake.url))
    assert fake.paths == ["/_sandbox/clock"]


def test_a_sandbox_that_is_gone_is_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConfigError) as caught:
        served_clock(sandbox_env(url))
    assert str(caught.value) == (
        f"cannot read the clock of the sandbox at '{url}' (ConnectError), {NAMED}: is "
        "`reconciler sandbox serve` still running there? Paste the export lines it printed "
        "again."
    )


def test_sandbox_clock_url_refuses_an_answer_without_a_clock(fake: Fake) -> None:
    fake.body = b'{"now": "later"}'
    with pytest.raises(ConfigError) as caught:
        clock(fake.url)
    assert str(caught.value) == (
        f"'{fake.url}' did not answer with a clock (epoch seconds under \"now\"): is it a "
        "`reconciler sandbox serve` URL?"
    )


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_never_answers_for_the_clock(
    fake: Fake, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    # The API client ignores proxy variables; the clock must come from the same host it
    # talks to, not from whoever a proxy variable names (who could say any time at all).
    proxy = Fake()
    proxy.start()
    try:
        fake.body = b'{"now": 1790000000}'
        proxy.body = b'{"now": 1}'
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.setenv("no_proxy", "")
        assert served_clock(sandbox_env(fake.url)) == 1790000000.0
        assert clock(fake.url) == 1790000000.0
    finally:
        proxy.stop()
    assert (fake.paths, proxy.paths) == (["/_sandbox/clock", "/_sandbox/clock"], [])
