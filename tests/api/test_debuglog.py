"""`--debug` logs every request and response, and no secret ever appears in the output."""

from urllib.parse import quote, quote_plus

import pytest

from reconciler.api import debuglog
from reconciler.live.read import read_all
from reconciler.sandbox import SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, World
from tests.api.helpers import AMC, invitation, sandbox_client


def secrets_of(world: World) -> list[str]:
    values = [SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, *world.tokens]
    out: list[str] = []
    for value in values:
        out += [value, quote(value, safe=""), quote_plus(value), value.split("|")[-1]]
    return out


def test_debug_log_shows_traffic_but_no_secret(
    sandbox_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = debuglog.enable()
    try:
        with sandbox_client(sandbox_world) as client:
            read_all(client.reader())
            client.create_invitations(AMC, [invitation("dbg@example.com")], notify=False)
    finally:
        debuglog.disable(handler)
    err = capsys.readouterr().err
    assert "request POST https://api.amazon.com/auth/o2/token" in err
    assert "response POST https://api.amazon.com/auth/o2/token status=200" in err
    assert "request GET https://advertising-api.amazon.com/managerAccounts" in err
    assert "request POST https://advertising-api.amazon.com/user-invitations " in err
    assert "dbg@example.com" in err  # bodies are logged
    assert '"authorization": "***"' in err
    assert sandbox_world.tokens  # a token was issued, and it must not show
    for secret in secrets_of(sandbox_world):
        assert secret not in err, secret
