"""Every paginated call follows `nextToken` to the end (the sandbox's page sizes forced to 1)."""

from typing import Any

import httpx
import pytest

from reconciler.api.pagination import paginate
from reconciler.api.translate import MAX_BODY_BYTES
from reconciler.errors import ApiError, AuthError
from reconciler.live.read import read_all, read_live
from reconciler.model import amc_scope
from reconciler.plan import Policy
from reconciler.planning.planner import make_plan
from reconciler.sandbox import SandboxTransport, World
from tests.api.helpers import AMC, Intercept, sandbox_client
from tests.factories import amc, desired, user

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


# --- A server whose lists do not end, or whose answers cannot be read ----------
# The hostile answers come from a hand-made network rule in front of the sandbox: the server
# is what is faked, never our code.


def test_paginate_stops_after_a_few_empty_pages_that_name_a_next_page() -> None:
    calls: list[str | None] = []

    def fetch(token: str | None) -> dict[str, Any]:
        calls.append(token)
        return {"items": [], "nextToken": f"fresh-{len(calls)}"}

    with pytest.raises(ApiError) as caught:
        list(paginate(fetch, items="items", operation="op"))
    assert str(caught.value) == (
        "op: the server sent 4 empty pages in a row, each with a new nextToken; stopping to "
        "avoid reading forever"
    )
    assert len(calls) == 4


def test_paginate_stops_after_the_page_cap() -> None:
    calls: list[str | None] = []

    def fetch(token: str | None) -> dict[str, Any]:
        calls.append(token)
        return {"items": [{"n": len(calls)}], "nextToken": f"t{len(calls)}"}

    with pytest.raises(ApiError, match=r"^op: the list did not end after 50 pages"):
        list(paginate(fetch, items="items", operation="op", max_pages=50))
    assert len(calls) == 50


def _endless_users(request: httpx.Request) -> httpx.Response | None:
    """ListUsers answers an empty page with a fresh token, forever."""
    if request.url.path != "/users/list":
        return None
    endless_users.append(request)
    return httpx.Response(
        200,
        json={"users": [], "nextToken": f"token-{len(endless_users)}"},
        headers={"Content-Type": "application/vnd.listusers.v1+json"},
    )


endless_users: list[httpx.Request] = []


def test_an_endless_user_list_marks_the_account_incomplete_and_plans_no_removal() -> None:
    """The issue's reproduction: 400 requests in 20 s, holding the lock. Now 4, then the
    scope is incomplete with the reason and the plan revokes nobody there."""
    endless_users.clear()
    world = World.default()
    want = desired([], [amc(AMC, user("dave@example.com", "admin"), prune=True)])
    transport = Intercept(SandboxTransport(world), _endless_users)
    with sandbox_client(world, transport=transport) as client:
        state = read_live(want, client.reader())
    assert len(endless_users) == 4
    (reason,) = [i.reason for i in state.incomplete if i.scope == amc_scope(AMC)]
    assert "ListUsers: the server sent 4 empty pages in a row" in reason
    plan = make_plan(want, state, Policy(now=world.now(), allow_incomplete=True))
    assert not [a for a in plan.actions if a.kind.name.startswith(("REVOKE", "REMOVE", "DELETE"))]


def _hostile_body(body: bytes, headers: dict[str, str] | None = None) -> Intercept:
    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/amc/accounts":
            return None
        return httpx.Response(
            200, content=body, headers={"Content-Type": "application/json", **(headers or {})}
        )

    return Intercept(SandboxTransport(World.default()), rule)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000, "AmcpLinkListAmcAccounts: HTTP 200 with a JSON body nested too deep"),
        (b"{" * 10 + b"not json", "AmcpLinkListAmcAccounts: HTTP 200 with a body that is not JSON"),
        (
            b" " * (MAX_BODY_BYTES + 1),
            f"AmcpLinkListAmcAccounts: HTTP 200 with a body over the {MAX_BODY_BYTES} byte limit",
        ),
    ],
    ids=["nested-100000-deep", "not-json", "too-large"],
)
def test_unreadable_answers_are_api_errors_not_tracebacks(body: bytes, message: str) -> None:
    with sandbox_client(World.default(), transport=_hostile_body(body)) as client:
        with pytest.raises(ApiError) as caught:
            list(client.iter_amc_accounts())
        assert str(caught.value).startswith(message)
        # read_all records it as the reason the AMC scope is incomplete.
        state = read_all(client.reader())
    assert any(message in i.reason for i in state.incomplete if i.scope == amc_scope("*"))


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    transport = _hostile_body(b"{}", {"Content-Length": str(MAX_BODY_BYTES + 1)})
    with (
        sandbox_client(World.default(), transport=transport) as client,
        pytest.raises(ApiError, match="over the 8388608 byte limit"),
    ):
        list(client.iter_amc_accounts())


def test_a_deeply_nested_error_body_is_still_an_api_error() -> None:
    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/amc/accounts":
            return None
        return httpx.Response(400, content=b"[" * 100_000)

    transport = Intercept(SandboxTransport(World.default()), rule)
    with (
        sandbox_client(World.default(), transport=transport) as client,
        pytest.raises(ApiError, match=r"HTTP 400: \[\[\[\["),
    ):
        list(client.iter_amc_accounts())


def test_a_token_answer_too_large_or_too_deep_is_an_auth_error() -> None:
    for body, message in [
        (b" " * (MAX_BODY_BYTES + 1), "over the 8388608 byte limit"),
        (b"[" * 100_000, "answered 200 without an access_token"),
    ]:

        def rule(request: httpx.Request, body: bytes = body) -> httpx.Response | None:
            if request.url.path != "/auth/o2/token":
                return None
            return httpx.Response(200, content=body)

        transport = Intercept(SandboxTransport(World.default()), rule)
        with (
            sandbox_client(World.default(), transport=transport) as client,
            pytest.raises(AuthError, match=message),
        ):
            list(client.iter_amc_accounts())
