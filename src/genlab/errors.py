"""The two kinds of failure a user can cause, and genlab's warnings.

Both failures carry a complete, one-line message meant for a person. The command-line
interface prints the message (never a traceback) and exits with the code below; it
prints a warning as one line too, and carries on.
"""


class GenlabError(Exception):
    """A problem with a file, a data set or a run directory (exit code 1)."""

    exit_code = 1


class ConfigError(GenlabError, ValueError):
    """An invalid option or configuration value (exit code 2, like argparse)."""

    exit_code = 2


class GenlabWarning(UserWarning):
    """Something will run but probably not as meant (e.g. a training run too short to learn)."""
