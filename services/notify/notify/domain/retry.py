"""When a failed send is tried again."""


def retry_delay(attempts: int, *, base: float, maximum: float) -> float:
    """Seconds to wait after the `attempts`-th failure (1-based): base, 2·base, 4·base... capped."""
    return min(base * 2 ** min(attempts - 1, 32), maximum)


def is_last_attempt(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts
