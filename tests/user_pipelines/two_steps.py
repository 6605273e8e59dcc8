"""A user's pipeline, as small as one can be: two lightweight components, the second reading the first's value.

`driftloop pipeline submit tests/user_pipelines/two_steps.py` runs it; the tests submit it in both modes. No
`from __future__ import annotations`: KFP reads the annotations as types.
"""

from kfp import dsl

BASE_IMAGE = "python:3.11"


@dsl.component(base_image=BASE_IMAGE)
def make_greeting(name: str, times: int) -> str:
    return " ".join([f"hello {name}"] * times)


@dsl.component(base_image=BASE_IMAGE)
def count_words(text: str) -> int:
    return len(text.split())


@dsl.pipeline(name="two-steps", description="Make a greeting, then count its words.")
def two_steps(name: str = "world", times: int = 2) -> None:
    greeting_task = make_greeting(name=name, times=times)
    count_words(text=greeting_task.output)
