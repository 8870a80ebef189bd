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
