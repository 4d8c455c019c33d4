"""The generated compatibility table is current."""

from tools.gen_commands_doc import OUT, render


def test_commands_md_is_up_to_date():
    assert OUT.read_text() == render(), "docs/commands.md is stale: run python tools/gen_commands_doc.py"
