"""The project's exceptions, on the ground floor: every module may raise them and this one
imports nothing of the project.

A `UserError` is what the user can fix (a flag, a data, run or embeddings file, a path): every
command (`cli.user_errors`) prints its message as one `error: ...` line and exits with status 2.
Any other exception is a bug in our code and keeps its traceback.
"""


class UserError(ValueError):
    """A mistake in what the user asked for or gave; the message is the whole `error: ...` line:
    the flag, file or line at fault and what to do. (A ValueError, so that library callers that
    catch bad values keep catching it.)"""


class DataFormatError(UserError):
    """Malformed input: names the file, the line (1-based, or None) and the problem.

    str(err) reads ``path:line: problem`` so that a user sees where to look without a
    traceback from pandas, the XML parser or TensorFlow.
    """

    def __init__(self, path, line, problem):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {problem}")


class TrainingInterrupted(Exception):
    """Ctrl-C during training: where it stopped and how to go on (one line for the user, exit
    status 130)."""
