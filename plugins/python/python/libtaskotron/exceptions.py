"""libtaskotron's exceptions that tasks catch."""


class TaskotronError(Exception):
    """The ancestor of libtaskotron's exceptions."""


class TaskotronValueError(ValueError, TaskotronError):
    """A bad value (e.g. an unknown outcome)."""


class TaskotronDirectiveError(TaskotronError):
    """A directive failed."""
