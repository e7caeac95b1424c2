"""Text search in lists: `column.ilike(contains_pattern(text), escape="\\")` matches the text
anywhere, case-insensitively, with the wildcards a user typed (%, _) taken literally."""


def contains_pattern(text: str, strip: bool = True) -> str:
    text = text.strip() if strip else text
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
