"""Masked-email resolution: pins, invitations, one-to-one masked matches, and
every way matching can be ambiguous."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.model import Role
from reconciler.planning.identity import masked_matches, resolve_users
from tests.factories import amc, invitation, live_amc, live_user, user

AMC = "ENTITY1AA1AA11AAA1"


@pytest.mark.parametrize(
    ("masked", "email", "expected"),
    [
        ("a***@example.com", "alice@example.com", True),
        ("a***@example.com", "ALICE@Example.COM", True),
        ("A***@EXAMPLE.com", "alice@example.com", True),
        ("a***@example.com", "bob@example.com", False),
        ("a***@example.com", "alice@example.org", False),
        ("a***@example.com", "a@example.com", True),  # a run of * may stand for nothing
        ("a***e@e***.com", "alice@example.com", True),  # several runs: regex path
        ("a***e@e***.com", "alicia@example.com", False),
        ("a*@x.com", "a.b+c@x.com", True),
        ("alice@example.com", "Alice@example.com", True),  # unmasked: exact, any case
        ("alice@example.com", "alice2@example.com", False),
        ("a.***@example.com", "abc@example.com", False),  # `.` is literal, not a regex dot
    ],
)
def test_masked_pattern(masked: str, email: str, expected: bool) -> None:
    assert masked_matches(masked, email) is expected


def test_pin_then_invitation_then_masked_email() -> None:
    desired = amc(
        AMC,
        user("alice@example.com", Role.ADMIN, user_id="amzn1.account.ALICE"),
        user("bob@example.com"),
        user("erin@example.com"),
        user("carol@example.com"),
    )
    live = live_amc(
        AMC,
        [
            live_user("amzn1.account.ALICE", "alice@example.com", Role.ADMIN),
            live_user("amzn1.account.ERIN", "erin@example.com"),
            live_user("amzn1.account.DAVE", "dave@example.com"),
        ],
        [invitation("inv-bob", "Bob@Example.com")],
    )
    r = resolve_users(desired, live)
    how = {
        m.desired.email: (
            m.how,
            m.user.user_id if m.user else str(getattr(m.invitation, "invitation_id", None)),
        )
        for m in r.matches
    }
    assert how == {
        "alice@example.com": ("userId", "amzn1.account.ALICE"),
        "bob@example.com": ("invitation", "inv-bob"),
        "erin@example.com": ("masked email", "amzn1.account.ERIN"),
    }
    assert [u.email for u in r.missing] == ["carol@example.com"]
    assert [u.user_id for u in r.unlisted_users] == ["amzn1.account.DAVE"]
    assert r.unresolved == () and r.unlisted_invitations == ()


def test_two_live_users_one_manifest_user_is_unresolved() -> None:
    # alice could be either a***: neither is matched, neither is unlisted (never revoked).
    r = resolve_users(
        amc(AMC, user("alice@example.com")),
        live_amc(
            AMC,
            [
                live_user("amzn1.account.A1", "alice@example.com"),
                live_user("amzn1.account.A2", "anna@example.com"),
            ],
        ),
    )
    assert r.matches == () and r.missing == () and r.unlisted_users == ()
    (group,) = r.unresolved
    assert [u.email for u in group.desired] == ["alice@example.com"]
    assert [u.user_id for u in group.candidates] == ["amzn1.account.A1", "amzn1.account.A2"]


def test_two_manifest_users_one_live_user_is_unresolved_and_nobody_is_invited() -> None:
    r = resolve_users(
        amc(AMC, user("alice@example.com"), user("anna@example.com")),
        live_amc(AMC, [live_user("amzn1.account.A1", "alice@example.com")]),
    )
    assert r.matches == () and r.missing == ()  # either might be the live one: invite neither
    (group,) = r.unresolved
    assert [u.email for u in group.desired] == ["alice@example.com", "anna@example.com"]
    assert [u.user_id for u in group.candidates] == ["amzn1.account.A1"]


def test_chain_of_candidates_is_one_group() -> None:
    # alice~{A1}, anna~{A1, A2 (an***)}: not one-to-one anywhere, so one group of 2 x 2.
    live = live_amc(
        AMC,
        [
            live_user("amzn1.account.A1", "a***@example.com", masked=False),
            live_user("amzn1.account.A2", "an***@example.com", masked=False),
            live_user("amzn1.account.B1", "bob@example.com"),
        ],
    )
    r = resolve_users(
        amc(AMC, user("alice@example.com"), user("anna@example.com"), user("bob@example.com")),
        live,
    )
    assert [(m.desired.email, m.user.user_id) for m in r.matches] == [  # type: ignore[union-attr]
        ("bob@example.com", "amzn1.account.B1")
    ]
    (group,) = r.unresolved
    assert {u.user_id for u in group.candidates} == {"amzn1.account.A1", "amzn1.account.A2"}
    assert len(group.desired) == 2


def test_domain_tells_masked_users_apart() -> None:
    r = resolve_users(
        amc(AMC, user("alice@example.com"), user("anna@example.org")),
        live_amc(
            AMC,
            [
                live_user("amzn1.account.A1", "alice@example.com"),
                live_user("amzn1.account.A2", "anna@example.org"),
            ],
        ),
    )
    assert r.unresolved == ()
    assert sorted((m.desired.email or "", m.user.user_id) for m in r.matches if m.user) == [
        ("alice@example.com", "amzn1.account.A1"),
        ("anna@example.org", "amzn1.account.A2"),
    ]


def test_pinned_user_takes_its_live_user_out_of_the_masked_pool() -> None:
    # The pin claims A1; anna is then the only a*** left for A2: one-to-one.
    r = resolve_users(
        amc(AMC, user("alice@example.com", user_id="amzn1.account.A1"), user("anna@example.com")),
        live_amc(
            AMC,
            [
                live_user("amzn1.account.A1", "alice@example.com"),
                live_user("amzn1.account.A2", "anna@example.com"),
            ],
        ),
    )
    assert r.unresolved == ()
    assert {(m.desired.email, m.how) for m in r.matches} == {
        ("alice@example.com", "userId"),
        ("anna@example.com", "masked email"),
    }


def test_pinned_user_is_never_guessed_from_its_email() -> None:
    # The pin names A9, which is not live: the a*** user is someone else, and alice is
    # missing (she has an email, so she can be invited).
    r = resolve_users(
        amc(AMC, user("alice@example.com", user_id="amzn1.account.A9")),
        live_amc(AMC, [live_user("amzn1.account.A1", "alice@example.com")]),
    )
    assert [u.email for u in r.missing] == ["alice@example.com"]
    assert [u.user_id for u in r.unlisted_users] == ["amzn1.account.A1"]


def test_pinned_user_without_email_that_is_absent() -> None:
    r = resolve_users(amc(AMC, user(None, user_id="amzn1.account.GONE")), live_amc(AMC))
    assert [u.user_id for u in r.pinned_absent] == ["amzn1.account.GONE"]
    assert r.missing == ()


def test_a_user_who_fits_an_invited_entry_is_held_not_unlisted() -> None:
    # bob is invited; the b*** active user may be bob added directly in the console while the
    # invitation waits ("accepting consumes the invitation" is an inference, not evidence):
    # held, never revoked, until a pin or notUserIds says who it is (review finding H1).
    r = resolve_users(
        amc(AMC, user("bob@example.com")),
        live_amc(
            AMC,
            [live_user("amzn1.account.B2", "bert@example.com")],
            [invitation("inv-bob", "bob@example.com")],
        ),
    )
    assert [m.how for m in r.matches] == ["invitation"]
    assert r.unlisted_users == ()
    assert [(u.user_id, d.email) for u, d in r.shadowed] == [
        ("amzn1.account.B2", "bob@example.com")
    ]
    told = resolve_users(
        amc(
            AMC,
            dataclasses.replace(
                user("bob@example.com"), not_user_ids=frozenset({"amzn1.account.B2"})
            ),
        ),
        live_amc(
            AMC,
            [live_user("amzn1.account.B2", "bert@example.com")],
            [invitation("inv-bob", "bob@example.com")],
        ),
    )
    assert [u.user_id for u in told.unlisted_users] == ["amzn1.account.B2"]


def test_duplicate_invitations_keep_the_right_role_and_list_the_rest() -> None:
    r = resolve_users(
        amc(AMC, user("bob@example.com", Role.ADMIN)),
        live_amc(
            AMC,
            invitations=[
                invitation("inv-1", "bob@example.com", Role.VIEWER, expires_in_days=13),
                invitation("inv-2", "bob@example.com", Role.ADMIN, expires_in_days=2),
                invitation("inv-3", "other@example.com", state="REVOKED"),  # not pending
            ],
        ),
    )
    assert [m.invitation.invitation_id for m in r.matches if m.invitation] == ["inv-2"]
    assert [i.invitation_id for i in r.unlisted_invitations] == ["inv-1"]


def test_same_role_group_is_still_reported_unresolved() -> None:
    r = resolve_users(
        amc(AMC, user("alice@example.com"), user("anna@example.com")),
        live_amc(
            AMC,
            [
                live_user("amzn1.account.A1", "alice@example.com"),
                live_user("amzn1.account.A2", "anna@example.com"),
            ],
        ),
    )
    (group,) = r.unresolved
    assert len(group.desired) == 2 and len(group.candidates) == 2
    assert r.matches == () and r.missing == () and r.unlisted_users == ()


@pytest.mark.parametrize(
    ("invited", "same"),
    [
        ("\u212aim@corp.example", False),  # the Kelvin sign, which NFC and lower() make a k
        ("kim@corp.ex\u0251mple", False),  # Latin alpha: no fold makes it an a
        ("Kim@Corp.Example", True),  # an ASCII address in any case is the same mailbox
    ],
)
def test_an_invitation_to_a_look_alike_address_is_not_the_persons(invited: str, same: bool) -> None:
    """Only an address that is the same once ASCII case is set aside is the person's: a
    character that Unicode folds into an ASCII letter is a look-alike, so the entry is
    missing (apply invites her) and the invitation is nobody's (prune revokes it)."""
    desired = amc(AMC, user("kim@corp.example"))
    live = live_amc(AMC, [], [invitation("inv-1", invited)])
    r = resolve_users(desired, live)
    assert [m.how for m in r.matches if m.invitation is not None] == (
        ["invitation"] if same else []
    )
    assert [u.email for u in r.missing] == ([] if same else ["kim@corp.example"])
    assert [i.invitation_id for i in r.unlisted_invitations] == ([] if same else ["inv-1"])


def test_a_composed_and_a_decomposed_accent_are_one_address() -> None:
    """NFC still makes `é` written as e + U+0301 the `é` of a manifest (`unicode: true`)."""
    desired = amc(AMC, user("jos\u00e9@corp.example"))
    live = live_amc(AMC, [], [invitation("inv-1", "jose\u0301@corp.example")])
    assert [m.how for m in resolve_users(desired, live).matches] == ["invitation"]
