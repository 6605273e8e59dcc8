"""Who is at the keyboard: the name an operator's command records beside what it changed.

The CLI has no login of its own, so it names the person as the machine knows them: the OS user at the host (in
a pod, `kubectl exec`'s host is the pod's name), and the MLflow login a person exported (MLflow's own
`MLFLOW_TRACKING_USERNAME`), never the one `act_as` set for a component.
"""

from __future__ import annotations

import getpass
import os
import socket

from pipelines.registry.users import SET_BY_US_VARIABLE, USERNAME_VARIABLE


def operator_identity() -> str:
    """`alice@laptop`, `alice@laptop (MLflow login admin)`, or `uid 1000@pod` when the user has no name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry and no USER variable
        user = f"uid {os.getuid()}"
    who = f"{user}@{socket.gethostname()}"
    login = os.environ.get(USERNAME_VARIABLE, "")
    if login and os.environ.get(SET_BY_US_VARIABLE) != login:
        who += f" (MLflow login {login})"
    return who
