"""The one error type every reader raises for malformed input."""


class DataFormatError(ValueError):
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
