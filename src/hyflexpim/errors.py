"""The one exception type for input a person can fix. The CLI turns it into one line and exit code 2."""


class UserError(Exception):
    """Bad input: the message names what is wrong and what is allowed."""


class NumericalError(UserError):
    """NaN or inf appeared; the message names the step and the matrix."""
