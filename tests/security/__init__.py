"""The security suite. A package, so its package-scoped platform stops when the suite ends
(without this file pytest would keep it running until the whole session ends)."""
