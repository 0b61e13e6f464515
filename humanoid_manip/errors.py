"""One error hierarchy, so callers catch the project's failures and nothing else."""


class HumanoidManipError(Exception):
    """Base of every error raised on purpose; the CLI prints it without a traceback."""


class ConfigError(HumanoidManipError):
    """A configuration file is missing, malformed, or names something that does not exist."""


class RobotDescriptionError(HumanoidManipError):
    """The URDF is missing, malformed, or disagrees with config/robot.yaml."""


class UnknownNameError(HumanoidManipError, KeyError):
    """A name (joint, task, camera, …) that is not among the valid ones."""

    def __init__(self, kind: str, name: str, valid):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        shown = ", ".join(self.valid[:60]) + (" …" if len(self.valid) > 60 else "")
        super().__init__(f"unknown {kind} {name!r}; valid: {shown}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]
