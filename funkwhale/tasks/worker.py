"""PLACEHOLDER until the task system lands: a worker service that does nothing."""

from twisted.application.service import Service


class Worker(Service):
    name = "worker"

    def __init__(self, ctx, concurrency, shutdown_timeout):
        self.ctx = ctx
