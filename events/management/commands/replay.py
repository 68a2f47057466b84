"""`replay`: the name DESIGN.md first gave `rebuild`; kept as an alias of it."""

from .rebuild import Command as RebuildCommand


class Command(RebuildCommand):
    help = "An alias of `rebuild`. " + RebuildCommand.help
