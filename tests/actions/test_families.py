"""Each kind of action belongs to one family, which owns how it reads (symbol, summary
phrase); the renderers and the plan file derive from the families, so no kind can vanish
from a summary or a plan file."""

from __future__ import annotations

import pytest

from reconciler.actions import (
    FAMILIES,
    PHRASE,
    SYMBOL,
    check_actions,
    describe,
    invitations,
    permissions,
)
from reconciler.model import Grant, LiveInvitation, LiveUser, Role, Scope, ScopeKind
from reconciler.plan import (
    KIND_ORDER,
    PHASE_GRANT,
    PHASE_REMOVE,
    REMOVING_KINDS,
    Action,
    ActionKind,
    typed_fields,
)
from reconciler.render.common import counts


@pytest.mark.parametrize("kind", list(ActionKind))
def test_every_kind_has_one_family_a_symbol_a_phrase_and_an_order(kind: ActionKind) -> None:
    assert kind in FAMILIES[kind].kinds
    assert SYMBOL[kind] in ("+", "~", "-")
    assert (SYMBOL[kind] == "-") == (kind in REMOVING_KINDS)
    assert PHRASE[kind].startswith("to ")
    assert kind in KIND_ORDER


def test_the_summary_counts_every_kind_grants_first() -> None:
    actions = [Action(kind=kind, phase=1, target=f"t{n}") for n, kind in enumerate(ActionKind)]
    assert counts(actions) == (
        "1 to create, 1 to associate, 1 to invite, 1 to resend, 1 to change access, "
        "1 to disassociate, 2 to revoke"
    )


def test_the_typed_fields_are_the_families_vocabulary() -> None:
    # What a family may require or forbid (`require`) is every field but the common ones.
    assert "account" in typed_fields() and "role" in typed_fields()
    assert "permissions" in typed_fields() and "countries" in typed_fields()
    assert not {"kind", "phase", "target", "reason", "label", "notify"} & set(typed_fields())


# ---- a plan file is untrusted: a grant its account's kind does not take is refused ----------

DSP = Scope(ScopeKind.DSP, "ENTITYDSP1")
MANAGER = Scope(ScopeKind.MANAGER, "amzn1.ads1.ma1.x")


def test_an_invitation_with_a_permission_of_another_kind_is_refused() -> None:
    action = invitations.invite(
        DSP, "a@corp.example", Grant(None, ("billing_view",)), "a", notify=True, reason="r"
    )
    assert check_actions([action]) == [
        "action 1 (invite a@corp.example): the grant: a DSP account takes no custom permission "
        "'billing_view' (it takes campaign_edit, creatives_edit, reports_edit, reports_limited)"
    ]


def test_a_permission_change_naming_countries_on_a_manager_account_is_refused() -> None:
    user = LiveUser("amzn1.account.A", "a***@corp.example", Role.VIEWER, grant=Grant(Role.VIEWER))
    action = permissions.set_role(
        MANAGER, user, Grant(Role.EDITOR, (), ("US",)), label="a", reason="r"
    )
    assert check_actions([action]) == [
        "action 1 (set-role amzn1.account.A): the new grant: a manager account takes no "
        "countries (only sponsored-ads accounts do)"
    ]
    # The item that would be sent is refused too: nothing reaches the API.
    with pytest.raises(ValueError, match="takes no countries"):
        FAMILIES[action.kind].item(action)


SPONSORED = Scope(ScopeKind.SPONSORED_ADS, "amzn1.ads-account.g.x")


def test_a_revoked_or_resent_invitation_shows_the_custom_set_it_grants() -> None:
    pending = LiveInvitation(
        "inv1", "ana@corp.example", "ana", None, "PENDING",
        grant=Grant(None, ("campaign_edit", "reports_view"), ("CA", "US")),
    )  # fmt: skip
    revoke = invitations.revoke(SPONSORED, pending, phase=PHASE_REMOVE, reason="r")
    resend = invitations.resend(SPONSORED, pending, notify=False, reason="r")
    assert check_actions([resend, revoke]) == []
    assert describe(revoke) == (
        "revoke invitation of ana@corp.example (inv1, custom [campaign_edit, reports_view] in "
        "CA, US)"
    )
    assert describe(resend) == (
        "resend invitation to ana@corp.example (custom [campaign_edit, reports_view] in CA, US)"
    )
    unread = LiveInvitation("inv2", "bo@corp.example", "bo", None, "PENDING")
    assert describe(invitations.revoke(SPONSORED, unread, phase=PHASE_REMOVE, reason="r")) == (
        "revoke invitation of bo@corp.example (inv2, a grant not read exactly)"
    )


def test_a_revoked_invitation_whose_set_belongs_to_another_kind_is_refused() -> None:
    """A plan file is untrusted: the grant a revoke or resend shows is checked like any."""
    pending = LiveInvitation(
        "inv1", "dan@corp.example", "dan", None, "PENDING", grant=Grant(None, ("billing_view",))
    )
    action = invitations.revoke(DSP, pending, phase=PHASE_REMOVE, reason="r")
    assert check_actions([action]) == [
        "action 1 (revoke-invitation inv1): the grant: a DSP account takes no custom "
        "permission 'billing_view' (it takes campaign_edit, creatives_edit, reports_edit, "
        "reports_limited)"
    ]


@pytest.mark.parametrize("kind", [ActionKind.REVOKE_INVITATION, ActionKind.RESEND_INVITATION])
def test_a_revoked_or_resent_invitation_of_a_role_its_kind_lacks_is_refused(
    kind: ActionKind,
) -> None:
    """A role alone (no set, no countries) is a grant too: a plan file showing an AMC
    invitation as an editor's is not one this reconciler made (AMC has no editor)."""
    amc = Scope(ScopeKind.AMC, "ENTITY1")
    action = Action(
        kind=kind,
        phase=PHASE_GRANT if kind is ActionKind.RESEND_INVITATION else PHASE_REMOVE,
        target="inv1",
        account=amc,
        email="dan@corp.example",
        role=Role.EDITOR,
        reason="r",
    )
    assert check_actions([action]) == [
        f"action 1 ({kind.value} inv1): the grant: an AMC account has no role editor"
    ]


def test_a_role_change_to_a_custom_set_is_one_put_item_run_after_the_grants() -> None:
    user = LiveUser("amzn1.account.A", "a***@corp.example", Role.ADMIN, grant=Grant(Role.ADMIN))
    sa = Scope(ScopeKind.SPONSORED_ADS, "amzn1.ads-account.g.x")
    action = permissions.set_role(
        sa, user, Grant(None, ("reports_view", "campaign_view"), ("US",)), label="a", reason="r"
    )
    assert action.phase == PHASE_REMOVE and check_actions([action]) == []
    assert FAMILIES[action.kind].item(action) == {
        "userId": "amzn1.account.A",
        "permissionSet": {
            "type": "CUSTOM_PERMISSION_SET",
            "customPermissionSet": [{"name": "campaign_view"}, {"name": "reports_view"}],
        },
        "countryCodes": ["US"],
    }
