"""What a form's text becomes in a JSON body: the API takes numbers only as JSON numbers."""


def number_or_text(text: str) -> int | str:
    """Digits become a number; anything else stays text, for the API to refuse with its reason."""
    return int(text) if text.isdecimal() else text
