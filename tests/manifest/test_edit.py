"""The one manifest editor (`reconciler.manifest.edit`): text and typed edits in, text out.
Each row is a file as people write them and an edit; the result must be exactly the text
expected (every other byte kept) and must load as YAML."""

from __future__ import annotations

import pytest
import yaml

from reconciler.manifest.edit import Editor, FileEdit, one_line, quoted
from reconciler.model import Grant, Role, Source

F = "m.yaml"


def _editor(text: str) -> Editor:
    return Editor(read={F: text}.__getitem__)


def _after(editor: Editor) -> str:
    files = editor.results()
    if not files:
        return ""
    (edit,) = files
    assert isinstance(edit, FileEdit) and edit.path == F
    yaml.safe_load(edit.after)  # whatever the edit, the file still parses
    return edit.after


BLOCK = (
    "users:\n  - email: a@x.example\n    role: viewer\n  - email: b@x.example\n    role: admin\n"
)


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_a_role_is_edited_at_its_scalar_and_every_line_keeps_its_break(nl: str) -> None:
    editor = _editor(BLOCK.replace("\n", nl))
    editor.set_role(Source(F, 2, 5), Role.ADMIN, "a is admin live")
    assert _after(editor) == BLOCK.replace("role: viewer", "role: admin").replace("\n", nl)


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_a_key_added_to_a_block_entry_uses_the_files_own_line_break(nl: str) -> None:
    editor = _editor(BLOCK.replace("\n", nl))
    found = editor.entry_on_line(F, 2)
    assert found is not None
    assert editor.add_key(F, found, "userId", quoted("amzn1.account.A"), "pin a")
    want = BLOCK.replace(
        "    role: viewer\n", '    role: viewer\n    userId: "amzn1.account.A"\n'
    ).replace("\n", nl)
    assert _after(editor) == want


def test_a_key_added_to_a_flow_entry_goes_before_its_brace_and_keeps_the_comment() -> None:
    text = "users:\n  - {email: a@x.example, role: viewer}  # the lead\n"
    editor = _editor(text)
    found = editor.entry_on_line(F, 2)
    assert found is not None
    assert editor.add_key(F, found, "userId", quoted("amzn1.account.A"), "pin a")
    assert _after(editor) == (
        'users:\n  - {email: a@x.example, role: viewer, userId: "amzn1.account.A"}  # the lead\n'
    )


def test_a_key_already_there_is_not_added_twice() -> None:
    text = 'users:\n  - {email: a@x.example, userId: "amzn1.account.A", role: viewer}\n'
    editor = _editor(text)
    found = editor.entry_on_line(F, 2)
    assert found is not None
    assert not editor.add_key(F, found, "userId", quoted("amzn1.account.B"), "pin a")
    assert editor.skipped == ["m.yaml:2: pin a: it has a `userId:` already"]
    assert _after(editor) == ""


def test_an_entry_of_a_flow_list_is_not_edited_line_by_line() -> None:
    editor = _editor("users: [{email: a@x.example, role: viewer}]\n")
    assert editor.entry_on_line(F, 1) is None
    editor.set_role(Source(F, 1, 9), Role.ADMIN, "a is admin live")
    assert editor.skipped == [
        "m.yaml:1: a is admin live: its `role:` is not where it can be edited"
    ]
    assert _after(editor) == ""


def test_a_byte_order_mark_stays_and_lines_are_counted_after_it() -> None:
    text = "\ufeffusers:\n  - {email: a@x.example, role: viewer}\n"
    editor = _editor(text)
    found = editor.entry_on_line(F, 2)
    assert found is not None
    assert editor.add_key(F, found, "userId", quoted("amzn1.account.A"), "pin a")
    assert _after(editor) == (
        '\ufeffusers:\n  - {email: a@x.example, role: viewer, userId: "amzn1.account.A"}\n'
    )


def test_removing_an_entry_takes_the_comments_and_blank_lines_inside_it_not_after_it() -> None:
    text = (
        "users:\n"
        "  - email: a@x.example\n"
        "    # until the audit\n"
        "\n"
        "    expires: 2026-01-01\n"
        "    role: viewer\n"
        "  # b is the lead\n"
        "  - email: b@x.example\n"
        "    role: admin\n"
    )
    editor = _editor(text)
    assert editor.remove(Source(F, 2, 5), "a expired")
    assert _after(editor) == (
        "users:\n  # b is the lead\n  - email: b@x.example\n    role: admin\n"
    )


def test_a_list_whose_every_entry_goes_becomes_an_empty_list_with_its_comment() -> None:
    text = (
        "users:  # people\n"
        "  - {email: a@x.example, role: viewer}\n"
        "  - {email: b@x.example, role: admin}\n"
        "prune: true\n"
    )
    editor = _editor(text)
    assert editor.remove(Source(F, 2, 5), "a gone")
    assert editor.remove(Source(F, 3, 5), "b gone")
    assert _after(editor) == "users: []  # people\nprune: true\n"


def test_entries_added_to_an_empty_list_replace_its_brackets() -> None:
    text = "- id: A\n  users: []\n"
    editor = _editor(text)
    editor.add_entries(
        None,
        "users",
        Source(F, 2, 3),
        [('{email: "a@x.example", role: viewer}', "live", "add a")],
        "amc:A",
    )
    assert (
        _after(editor) == '- id: A\n  users:\n    - {email: "a@x.example", role: viewer}  # live\n'
    )


def test_two_edits_of_the_same_lines_are_never_both_made() -> None:
    editor = _editor(BLOCK)
    assert editor.remove(Source(F, 2, 5), "a gone")
    editor.set_role(Source(F, 2, 5), Role.ADMIN, "a is admin live")
    assert editor.skipped == ["a is admin live: its lines are changed by another adoption"]
    assert _after(editor) == "users:\n  - email: b@x.example\n    role: admin\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", '"plain"'),
        ('a"b', '"a\\"b"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("sep\u2028arator", '"sep\\u2028arator"'),
        ("bidi\u202eevil", '"bidi\\u202eevil"'),
        ("k: v", '"k: v"'),
    ],
)
def test_a_value_is_one_quoted_scalar_that_loads_back_exactly(value: str, written: str) -> None:
    assert quoted(value) == written
    assert yaml.safe_load(f"key: {written}") == {"key": value}


def test_a_comment_cannot_end_its_line() -> None:
    assert one_line("a\nb\u2028c\u202e") == "a\\u000ab\\u2028c\\u202e"


CUSTOM = Grant(None, ("campaign_edit", "reports_view"), ("CA", "US"))
GRANTS = {
    "flow role to custom": (
        "users:\n  - {email: a@x.example, role: viewer}  # a\n",
        CUSTOM,
        'users:\n  - {email: a@x.example, permissions: ["campaign_edit", "reports_view"], '
        'countries: ["CA", "US"]}  # a\n',
    ),
    "flow custom to role": (
        "users:\n  - {permissions: [x, y], email: a@x.example, countries: [US], name: A}\n",
        Grant(Role.ADMIN),
        "users:\n  - {role: admin, email: a@x.example, name: A}\n",
    ),
    "block role to custom": (
        "users:\n  - email: a@x.example\n    role: viewer   # why\n    name: A\n",
        CUSTOM,
        "users:\n  - email: a@x.example\n"
        '    permissions: ["campaign_edit", "reports_view"]   # why\n'
        '    countries: ["CA", "US"]\n    name: A\n',
    ),
    "block list to role": (
        "users:\n  - email: a@x.example\n    permissions:\n      - x\n      - y\n"
        "    countries: [US]\n    name: A\n",
        Grant(Role.VIEWER, (), ("US",)),
        'users:\n  - email: a@x.example\n    role: viewer\n    countries: ["US"]\n    name: A\n',
    ),
    "block key on the dash line": (
        "users:\n  - role: viewer\n    email: a@x.example\n",
        Grant(None, ("x",)),
        'users:\n  - permissions: ["x"]\n    email: a@x.example\n',
    ),
    "role to role": (
        "users:\n  - {email: a@x.example, role: viewer}\n",
        Grant(Role.EDITOR),
        "users:\n  - {email: a@x.example, role: editor}\n",
    ),
}


@pytest.mark.parametrize("name", sorted(GRANTS))
@pytest.mark.parametrize("nl", ["\n", "\r\n"])
def test_a_grant_replaces_the_entrys_grant_keys_and_nothing_else(name: str, nl: str) -> None:
    text, grant, want = GRANTS[name]
    editor = _editor(text.replace("\n", nl))
    editor.set_grant(Source(F, 2, 5), grant, "a's access changed live")
    assert editor.skipped == []
    assert _after(editor) == want.replace("\n", nl)


def test_hostile_permission_names_stay_one_scalar_each() -> None:
    evil = 'x"]}\n  - {group: admins, role: admin}\u2028# '
    editor = _editor("users:\n  - {email: a@x.example, role: viewer}\n")
    editor.set_grant(Source(F, 2, 5), Grant(None, (evil,), ("US",)), "changed")
    after = _after(editor)
    assert yaml.safe_load(after) == {
        "users": [{"email": "a@x.example", "permissions": [evil], "countries": ["US"]}]
    }
    assert after.count("\n") == 2 and "\u2028" not in after


def test_grant_keys_split_by_another_key_are_listed_not_edited() -> None:
    text = "users:\n  - email: a@x.example\n    role: viewer\n    name: A\n    countries: [US]\n"
    editor = _editor(text)
    editor.set_grant(Source(F, 2, 5), CUSTOM, "a's access changed live")
    assert editor.skipped == [
        f"{F}:2: a's access changed live: its access is not laid out line by line"
    ]
    assert _after(editor) == ""
