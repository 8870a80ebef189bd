"""What a process loads at start: libraries used only by some requests or tasks are imported on first use, each in
the one module that wraps it, so an idle web process does not carry them (bench/startup.py)."""

from __future__ import annotations

import subprocess
import sys

ON_FIRST_USE = {"PIL", "markdown", "nh3", "mutagen"}  # music/attachments/images.py, rich_text.py, music/metadata.py


def _loaded(code: str, names: str = "{m.split('.')[0] for m in sys.modules}") -> set[str]:
    """The `names` (an expression over sys.modules) of what a fresh interpreter loaded once it ran `code`."""
    program = f"import sys\n{code}\nprint(' '.join(sorted({names})))\n"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_the_modules_of_a_web_process_leave_heavy_libraries_to_their_first_use():
    loaded = _loaded(
        "import funkwhale.tap, funkwhale.service, funkwhale.web.app, funkwhale.jobs\n"
        "from funkwhale.tasks import registry\n"
        "registry.load_tasks()"
    )
    assert "klein" in loaded  # the modules were imported
    assert not loaded & ON_FIRST_USE


def test_a_tag_reading_process_loads_neither_twisted_nor_the_database():
    """The fork server preloads what a reading process runs (importer/readers.PRELOAD), so that a process forked
    from it reads at once instead of importing Twisted first."""
    from funkwhale.music.importer.readers import PRELOAD, read_chunk

    assert read_chunk.__module__ in PRELOAD  # what the pool runs is preloaded
    loaded = _loaded(f"import importlib\nfor name in {list(PRELOAD)!r}: importlib.import_module(name)")
    assert {"mutagen", "funkwhale"} <= loaded
    assert not loaded & {"twisted", "psycopg2", "klein"}


def test_listing_the_commands_loads_only_what_lists_them():
    """Every `funkwhale` command imports the modules that contribute commands (cli._load_extensions): what a
    command uses is imported when it runs, so `funkwhale import` does not load the accounts' modules."""
    loaded = _loaded(
        "from funkwhale import cli\ncli._load_extensions()\ncli.build_parser()",
        "m for m in sys.modules if m.startswith(('funkwhale', 'argon2', 'psycopg2'))",
    )
    assert {"funkwhale.users.cli", "funkwhale.music.importer.cli"} <= loaded
    assert not loaded & {"funkwhale.users.accounts", "funkwhale.users.passwords", "argon2", "psycopg2"}
