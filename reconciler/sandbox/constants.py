"""Hosts, credentials, media types and every decision the sandbox makes where the reference
(`amazon-ads-api.md`) marks a fact [UNK]. Change a decision here, in one place."""

from __future__ import annotations

from typing import Final

# The sandbox's well-known credentials are defined beside the client's configuration.
from reconciler.api.config import SANDBOX_CLIENT_ID as SANDBOX_CLIENT_ID
from reconciler.api.config import SANDBOX_CLIENT_SECRET as SANDBOX_CLIENT_SECRET
from reconciler.api.config import SANDBOX_REFRESH_TOKEN as SANDBOX_REFRESH_TOKEN
from reconciler.model import Region

# Reference §1.1: one host per region. The sandbox answers on exactly these origins.
API_HOSTS: Final[dict[Region, str]] = {
    Region.NA: "https://advertising-api.amazon.com",
    Region.EU: "https://advertising-api-eu.amazon.com",
    Region.FE: "https://advertising-api-fe.amazon.com",
}
# Reference §1.3: the NA token URL; the EU and FE ones answer too ("access tokens are global").
TOKEN_URL: Final = "https://api.amazon.com/auth/o2/token"
TOKEN_HOSTS: Final = ("api.amazon.com", "api.amazon.co.uk", "api.amazon.co.jp")
TOKEN_PATH: Final = "/auth/o2/token"

# Obviously fake credentials: a repo hook flags `Atzr|` followed by 20+ token characters.
ACCESS_TOKEN_PREFIX: Final = "Atza|sandbox-"
ACCESS_TOKEN_LIFETIME_S: Final = 3600  # reference §1.3: access tokens last 60 minutes

# Reference §4.2: invitations expire after two weeks; RESENT renews the window (§4.3).
INVITATION_LIFETIME_S: Final = 14 * 24 * 3600
# [UNK] §7.2: units of UserInvitation.createdAt/expiration. Decision: epoch milliseconds
# (Amazon's Smithy-generated APIs use epoch numbers; ms is the common JS-side choice).
INVITATION_TIME_SCALE: Final = 1000.0  # epoch seconds * this = the number the API returns

# [UNK] §4.7: the UserInvitation.state enum. Decision: PENDING while redeemable; the list
# also returns invitations that expired without being accepted, as EXPIRED, so a client can
# RESENT them. ACCEPTED and REVOKED invitations are not listed.
STATE_PENDING: Final = "PENDING"
STATE_EXPIRED: Final = "EXPIRED"
STATE_ACCEPTED: Final = "ACCEPTED"
STATE_REVOKED: Final = "REVOKED"
STATE_RESENT: Final = "RESENT"

# [UNK] §7.3: AMC invitation role casing. Decision: only the guide's lower-case spelling;
# any other casing gets a per-item `errors` entry, so a client bug shows up here first.
AMC_INVITATION_ROLES: Final = ("admin", "viewer")
# S-UPM `Role`: the user-permission API spells roles upper-case. AMC accounts support ADMIN
# and VIEWER only (the AMC guide: "admin" or "viewer"); EDITOR gets an `errors` entry.
AMC_USER_ROLES: Final = ("ADMIN", "VIEWER")

# Batch limits (S-MA description text; S-INV/S-UPM maxItems).
MAX_LINKS_PER_CALL: Final = 20
MAX_LINKED_RETURNED: Final = 50  # S-MA2: silently truncated per manager account and host
MAX_INVITATIONS_PER_CALL: Final = 50
MAX_DELETES_PER_CALL: Final = 200

# Page sizes: the largest the spec allows, and the default when a request names none.
# [UNK] defaults when maxResults is absent. Decision: the spec maximum. Tests lower the caps
# with `World.page_sizes` to force pagination.
PAGE_SIZE_CAPS: Final[dict[str, int]] = {
    "amc_accounts": 100,  # S-AMC: amcAccounts maxItems 100, no maxResults parameter
    "invitations": 50,  # S-INV ListUserInvitations maxResults 1..50
    "users": 100,  # S-UPM ListUsers maxResults 1..100
    "roles": 5,  # S-UPM QueryUserRoles: roles maxItems 5
}

# Media types exactly as the specs spell them. [UNK] whether Amazon compares them
# case-sensitively, and whether it takes the request media type as `Accept`.
# Decision: lenient by default (case-insensitive, as RFC 6838 has it; the request type is
# accepted in `Accept`), exact with `Sandbox(strict_media_types=True)` / `sandbox serve
# --strict-media-types`. See the `reconciler.sandbox.app` docstring.
MT_GET_MANAGER_ACCOUNTS: Final = "application/vnd.getmanageraccountsresponse.v1+json"
MT_CREATE_MANAGER_ACCOUNT: Final = "application/vnd.createmanageraccountrequest.v1+json"
MT_MANAGER_ACCOUNT: Final = "application/vnd.manageraccount.v1+json"
MT_LINK_REQUEST: Final = "application/vnd.updateadvertisingaccountsinmanageraccountrequest.v1+json"
MT_LINK_RESPONSE: Final = (
    "application/vnd.updateadvertisingaccountsinmanageraccountresponse.v1+json"
)
MT_AMC: Final = "application/vnd.amcaudiencesconnections.v1+json"
MT_CREATE_INVITATIONS: Final = "application/vnd.CreateUserInvitations.v1+json"
MT_UPDATE_INVITATIONS: Final = "application/vnd.UpdateUserInvitations.v1+json"
MT_LIST_INVITATIONS: Final = "application/vnd.ListUserInvitations.v1+json"
MT_LIST_USERS: Final = "application/vnd.listusers.v1+json"
MT_QUERY_ROLES: Final = "application/vnd.queryuserroles.v1+json"
MT_UPDATE_PERMISSIONS: Final = (
    "application/vnd.MinosAuthorizationNativeServicePublicAPI.UpdateUserPermissionsResource.v1+json"
)
MT_DELETE_PERMISSIONS: Final = (
    "application/vnd.MinosAuthorizationNativeServicePublicAPI.DeleteUserPermissionsResource.v1+json"
)
MT_JSON: Final = "application/json"
MT_FORM: Final = "application/x-www-form-urlencoded"
