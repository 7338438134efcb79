"""checkb's exceptions that tasks catch."""


class CheckbError(Exception):
    """The ancestor of checkb's exceptions."""


class CheckbValueError(ValueError, CheckbError):
    """A bad value (e.g. an unknown outcome)."""


class CheckbDirectiveError(CheckbError):
    """A directive failed."""
