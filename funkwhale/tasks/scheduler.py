"""PLACEHOLDER until the task system lands."""

from twisted.application.service import Service


class Scheduler(Service):
    name = "scheduler"

    def __init__(self, ctx, jobs):
        self.ctx = ctx


def default_jobs(ctx):
    return []
