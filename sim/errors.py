"""What a simulation raises: the hardware broke its protocol, or its simulator is missing.

Standard library only, so the numpy tier, the backends and the host catch them alike.
"""

__all__ = ["SimulationError", "BackendUnavailable"]


class SimulationError(RuntimeError):
    """The simulated hardware broke its protocol (a hang, a missing or misflagged row)."""


class BackendUnavailable(RuntimeError):
    """The chosen simulator (or a tool its build needs) is missing; the message says how to get it."""
