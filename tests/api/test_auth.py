"""Login with Amazon: one token, cached; renewed on expiry (the sandbox clock moves); clear
errors that never carry a secret."""

import pytest

from reconciler.api import ApiConfig, ClientEvent, EventKind
from reconciler.errors import AuthError
from reconciler.live.read import read_all
from reconciler.sandbox import SANDBOX_CLIENT_ID, World
from tests.api.helpers import sandbox_client


def test_the_token_is_fetched_once_for_many_requests(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        read_all(client.reader())
        assert client.stats.requests > 5
        assert client.stats.token_requests == 1


def test_token_expiry_mid_read_renews_once_and_the_read_completes(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        expected = read_all(client.reader(), now=0.0)
    seen = [0]

    def expire_after_three_requests(event: ClientEvent) -> None:
        if event.kind is EventKind.REQUEST:
            seen[0] += 1
            if seen[0] == 3:
                sandbox_world.advance_clock(2 * 3600)  # every token issued so far is dead

    with sandbox_client(
        sandbox_world, on_event=expire_after_three_requests, max_concurrency=1
    ) as client:
        live = read_all(client.reader(), now=0.0)
        stats = client.stats
    assert live == expected
    assert stats.token_requests == 2
    # One request was answered 401 and sent again with the new token.
    assert stats.requests == sum(expected_requests(expected)) + 1


def expected_requests(live: object) -> list[int]:
    # 3 regions' manager accounts and profiles + 1 AMC listing + per account of any kind:
    # invitations, users, one roles call per user
    from reconciler.model import Live

    assert isinstance(live, Live)
    return [3, 3, 1, *(2 + len(a.users) for a in live.accounts)]


def test_bad_credentials_give_auth_error_without_the_secret(sandbox_world: World) -> None:
    config = ApiConfig(
        client_id=SANDBOX_CLIENT_ID,
        client_secret="not-the-right-secret",
        refresh_token="Atzr|not-the-right-refresh",
    )
    with sandbox_client(sandbox_world, config=config) as client, pytest.raises(AuthError) as info:
        list(client.iter_amc_accounts())
    message = str(info.value)
    assert message.startswith(
        "lwaRefreshToken (POST https://api.amazon.com/auth/o2/token) failed: HTTP 401 "
        "invalid_client: Client authentication failed. Login with Amazon refused the credentials"
    )
    assert "not-the-right" not in message
    assert sandbox_world.stats.requests["AmcpLinkListAmcAccounts"] == 0
