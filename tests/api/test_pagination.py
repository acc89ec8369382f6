"""Every paginated call follows `nextToken` to the end (the sandbox's page sizes forced to 1)."""

from typing import Any

import pytest

from reconciler.api.pagination import paginate
from reconciler.errors import ApiError
from reconciler.sandbox import World
from tests.api.helpers import sandbox_client

SEED: dict[str, Any] = {
    "name": "pages",
    "page_sizes": {"amc_accounts": 1, "invitations": 1, "users": 1, "roles": 1},
    "amc_accounts": [
        {
            "id": f"ENTITYPAGE{n}",
            "name": f"Paged {n}",
            "users": [{"email": f"user{i}@example.com", "role": "VIEWER"} for i in range(3)],
            "invitations": [{"email": f"inv{i}@example.com", "role": "admin"} for i in range(4)],
        }
        for n in range(3)
    ],
}


def test_every_page_of_every_list_is_read() -> None:
    world = World.from_seed(SEED)
    with sandbox_client(world) as client:
        accounts = [a["accountId"] for a in client.iter_amc_accounts()]
        assert accounts == ["ENTITYPAGE0", "ENTITYPAGE1", "ENTITYPAGE2"]
        users = list(client.iter_users("ENTITYPAGE1"))
        invitations = list(client.iter_invitations("ENTITYPAGE1"))
        roles = client.list_user_roles("ENTITYPAGE1", users[0]["userId"])
    assert len(users) == 3
    assert len({u["userId"] for u in users}) == 3
    assert sorted(i["user"]["emailAddress"] for i in invitations) == [
        f"inv{i}@example.com" for i in range(4)
    ]
    assert roles == [{"role": "VIEWER", "type": "ROLE"}]
    # One request per page: n items on pages of 1 take n requests (the last page has no token).
    requests = world.stats.requests
    assert requests["AmcpLinkListAmcAccounts"] == 3
    assert requests["ListUsers"] == 3
    assert requests["ListUserInvitations"] == 4
    assert requests["QueryUserRoles"] == 1


def test_paginate_follows_tokens_and_stops_on_an_empty_one() -> None:
    pages = {
        None: {"items": [{"n": 1}], "nextToken": "a"},
        "a": {"items": [{"n": 2}], "nextToken": ""},
    }
    assert [x["n"] for x in paginate(pages.__getitem__, items="items", operation="op")] == [1, 2]


def test_paginate_refuses_a_repeated_token() -> None:
    pages = {None: {"items": [], "nextToken": "a"}, "a": {"items": [], "nextToken": "a"}}
    with pytest.raises(ApiError, match="repeated a pagination token"):
        list(paginate(pages.__getitem__, items="items", operation="op"))
