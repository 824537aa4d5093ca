"""What can go wrong in the terminal client; each error is one line for the user.

CliError            exit status 1: the server refused or could not be reached
└── UsageError      exit status 2: bad arguments, no session yet
"""

from __future__ import annotations


class CliError(Exception):
    """A failure to report in one line and exit with :attr:`exit_code`."""

    exit_code = 1


class UsageError(CliError):
    """The command line itself is wrong (or the user must log in first)."""

    exit_code = 2
