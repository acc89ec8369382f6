"""The operations we call, exactly as the specs name and type them (reference §2-§5).

Each entry carries the spec's operationId (used in errors, logs and stats), the method and
path, and the vendored media types: `content_type` for the body, `accept` for the 2xx
response. Wrong types give 406/415 (reference §1.4).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import ACCOUNT_HEADER as ACCOUNT_HEADER  # the header per kind: KINDS
from reconciler.model import Region


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # operationId
    method: str
    path: str  # may contain {managerAccountId}
    accept: str
    content_type: str | None = None
    write: bool = False
    array: bool = False  # the 2xx body is a JSON array, not an object


# Manager Accounts (S-MA, §2). GET has no pagination and returns <= 50 links per account.
LIST_MANAGER_ACCOUNTS = Operation(
    "getManagerAccountsForUser",
    "GET",
    "/managerAccounts",
    accept="application/vnd.getmanageraccountsresponse.v1+json",
)
CREATE_MANAGER_ACCOUNT = Operation(
    "createManagerAccount",
    "POST",
    "/managerAccounts",
    accept="application/vnd.manageraccount.v1+json",
    content_type="application/vnd.createmanageraccountrequest.v1+json",
    write=True,
)
_LINKS_REQUEST = "application/vnd.updateadvertisingaccountsinmanageraccountrequest.v1+json"
_LINKS_RESPONSE = "application/vnd.updateadvertisingaccountsinmanageraccountresponse.v1+json"
ASSOCIATE = Operation(
    "LinkAdvertisingAccountsToManagerAccountPublicAPI",
    "POST",
    "/managerAccounts/{managerAccountId}/associate",
    accept=_LINKS_RESPONSE,
    content_type=_LINKS_REQUEST,
    write=True,
)
DISASSOCIATE = Operation(
    "UnlinkAdvertisingAccountsToManagerAccountPublicAPI",
    "POST",
    "/managerAccounts/{managerAccountId}/disassociate",
    accept=_LINKS_RESPONSE,
    content_type=_LINKS_REQUEST,
    write=True,
)

# Profiles (S-PROF2, §1.7): the guide's path `/v2/profiles`, no Scope header; the 200 body is a
# JSON array (at most 5000 profiles) of the host's region only. `application/json` is the
# spec's only media type.
LIST_PROFILES = Operation(
    "listProfiles",
    "GET",
    "/v2/profiles",
    accept="application/json",
    array=True,
)
# S-PROF2 `maxItems: 5000`: a response this long may have been cut short.
PROFILES_CAP = 5000
# The filters sent (S-PROF2 query parameters). Decision ([UNK] which profiles the default
# leaves out beyond "view+edit (campaign)"): `apiProgram=account&accessLevel=view` asks for
# every profile whose account the identity may at least view, which is the permission
# listing its users and invitations takes (`account_view`, reference §4.1, §5.1).
PROFILES_QUERY = {"apiProgram": "account", "accessLevel": "view"}

# AMC administration (S-AMC, §3.1): odd media type, but that is what the spec says.
LIST_AMC_ACCOUNTS = Operation(
    "AmcpLinkListAmcAccounts",
    "GET",
    "/amc/accounts",
    accept="application/vnd.amcaudiencesconnections.v1+json",
)

# User invitations (S-INV, §4): mixed-case media types exactly as in the spec.
LIST_INVITATIONS = Operation(
    "ListUserInvitations",
    "POST",
    "/user-invitations/list",
    accept="application/vnd.ListUserInvitations.v1+json",
    content_type="application/vnd.ListUserInvitations.v1+json",
)
CREATE_INVITATIONS = Operation(
    "CreateUserInvitations",
    "POST",
    "/user-invitations",
    accept="application/vnd.CreateUserInvitations.v1+json",
    content_type="application/vnd.CreateUserInvitations.v1+json",
    write=True,
)
UPDATE_INVITATIONS = Operation(
    "UpdateUserInvitations",
    "PUT",
    "/user-invitations",
    accept="application/vnd.UpdateUserInvitations.v1+json",
    content_type="application/vnd.UpdateUserInvitations.v1+json",
    write=True,
)

# User permissions (S-UPM, §5).
LIST_USERS = Operation(
    "ListUsers",
    "POST",
    "/users/list",
    accept="application/vnd.listusers.v1+json",
    content_type="application/vnd.listusers.v1+json",
)
LIST_USER_ROLES = Operation(
    "QueryUserRoles",
    "POST",
    "/userRoles/list",
    accept="application/vnd.queryuserroles.v1+json",
    content_type="application/vnd.queryuserroles.v1+json",
)
_UPDATE_PERMS = (
    "application/vnd.MinosAuthorizationNativeServicePublicAPI.UpdateUserPermissionsResource.v1+json"
)
_DELETE_PERMS = (
    "application/vnd.MinosAuthorizationNativeServicePublicAPI.DeleteUserPermissionsResource.v1+json"
)
UPDATE_USER_PERMISSIONS = Operation(
    "UpdateUserPermissions",
    "PUT",
    "/userPermissions",
    accept=_UPDATE_PERMS,
    content_type=_UPDATE_PERMS,
    write=True,
)
DELETE_USER_PERMISSIONS = Operation(
    "DeleteUserPermissions",
    "POST",
    "/userPermissions/delete",
    accept=_DELETE_PERMS,
    content_type=_DELETE_PERMS,
    write=True,
)

# Batch limits (spec descriptions / schemas).
MAX_LINKS_PER_CALL = 20  # associate/disassociate, §2.4
MAX_INVITATIONS_PER_CALL = 50  # userInvitationRequests / updates, §4.2-4.3
MAX_DELETES_PER_CALL = 200  # DeleteUserPermissions users[], §5
# [UNK] The spec gives no maxItems for userPermissions[] in UpdateUserPermissions; we use the
# invitation batch size. Change here if Amazon documents one.
MAX_PERMISSION_UPDATES_PER_CALL = 50

# Page sizes: the maximum each list operation allows (§4.4, §5).
PAGE_INVITATIONS = 50
PAGE_USERS = 100
# QueryUserRoles allows maxResults up to 100, but a page never holds more than 5 roles
# (`roles` maxItems 5), and the sandbox rejects more than 5: ask for 5.
PAGE_ROLES = 5

ALL_REGIONS = tuple(Region)
