"""What a process loads at start: libraries used only by some requests or tasks are imported on first use, each in
the one module that wraps it, so an idle web process does not carry them (bench/startup.py)."""

from __future__ import annotations

import subprocess
import sys

ON_FIRST_USE = {"PIL", "markdown", "nh3", "mutagen"}  # music/attachments/images.py, rich_text.py, music/metadata.py


def test_the_modules_of_a_web_process_leave_heavy_libraries_to_their_first_use():
    code = (
        "import sys\n"
        "import funkwhale.tap, funkwhale.service, funkwhale.web.app, funkwhale.jobs\n"
        "from funkwhale.tasks import registry\n"
        "registry.load_tasks()\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    assert "klein" in loaded  # the modules were imported
    assert not loaded & ON_FIRST_USE


def test_a_tag_reading_process_loads_neither_twisted_nor_the_database():
    """The fork server preloads what a reading process runs (importer/readers.PRELOAD), so that a process forked
    from it reads at once instead of importing Twisted first."""
    from funkwhale.music.importer.readers import PRELOAD, read_chunk

    assert read_chunk.__module__ in PRELOAD  # what the pool runs is preloaded
    code = f"import importlib, sys\nfor name in {list(PRELOAD)!r}: importlib.import_module(name)\n"
    code += "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(result.stdout.split())
    assert {"mutagen", "funkwhale"} <= loaded
    assert not loaded & {"twisted", "psycopg2", "klein"}
