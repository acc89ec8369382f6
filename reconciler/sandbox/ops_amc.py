"""AMC accounts: `GET /amc/accounts` (reference §3.1). Their people are served by the
invitation and user-permission operations, as every kind's are (`ops_invitations`,
`ops_users`)."""

from __future__ import annotations

from typing import Any

from reconciler.sandbox import constants as c
from reconciler.sandbox.paging import paginate
from reconciler.sandbox.wire import Call, Response, Route, json_response


# -- GET /amc/accounts --------------------------------------------------------------------
def list_amc_accounts(call: Call) -> Response:
    """AmcpLinkListAmcAccounts: every AMC account the caller can administer."""
    token = dict(call.request.query).get("nextToken")
    accounts = list(call.world.amc.values())
    page, next_token = paginate(
        accounts, world=call.world, kind="amc_accounts", scope="", token=token, max_results=None
    )
    body: dict[str, Any] = {
        "amcAccounts": [
            {"accountId": a.account_id, "accountName": a.name, "marketplaceId": a.marketplace_id}
            for a in page
        ]
    }
    if next_token is not None:  # "Null if all results have been returned": key left out
        body["nextToken"] = next_token
    return json_response(200, body, c.MT_AMC)


ROUTES = (
    Route(
        "AmcpLinkListAmcAccounts",
        "GET",
        ("amc", "accounts"),
        "amc",
        None,
        c.MT_AMC,
        c.MT_AMC,
        list_amc_accounts,
    ),
)
