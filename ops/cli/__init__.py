from ops.cli.command import app, main

__all__ = ["app", "main"]
