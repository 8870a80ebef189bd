"""Every entry of the string registries (HTTP areas, Subsonic endpoint modules, task modules, CLI modules)
names something that imports and registers what it promises, so a typo fails here and not at run time."""

from __future__ import annotations

import importlib

import pytest

from funkwhale import cli
from funkwhale.subsonic import app as subsonic_app
from funkwhale.subsonic import registry as subsonic_registry
from funkwhale.tasks import registry as task_registry
from funkwhale.web.app import AREAS


@pytest.mark.parametrize(("path", "target"), AREAS)
def test_each_http_area_is_a_class_with_a_klein_app(path, target):
    module_name, _, class_name = target.partition(":")
    area = getattr(importlib.import_module(module_name), class_name)
    assert hasattr(area, "app"), target
    assert not path.startswith("/") and not path.endswith("/")


def test_every_subsonic_endpoint_module_registers_endpoints():
    subsonic_app.load_endpoints()
    for name in subsonic_app.ENDPOINT_MODULES:
        owned = {n for n, e in subsonic_registry.ENDPOINTS.items() if e.handler.__module__ == name}
        assert owned, f"{name} registers no Subsonic endpoint"


def test_every_task_module_registers_tasks():
    task_registry.load_tasks()
    for name in task_registry.TASK_MODULES:
        importlib.import_module(name)
        owned = [t for t in task_registry._tasks.values() if t.fn.__module__ == name]
        assert owned, f"{name} registers no task"


def test_every_cli_module_adds_commands():
    cli._load_extensions()
    parser = cli.build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # the sub-commands argparse knows
    assert set(cli.COMMANDS) == commands
    for name in cli.CLI_MODULES:
        module = importlib.import_module(name)
        assert any(fn.__module__ == module.__name__ for fn in cli.COMMANDS.values()), name
