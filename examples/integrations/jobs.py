"""A function that rq workers run (rq imports jobs by dotted path)."""


def add(a: int, b: int) -> int:
    return a + b
