"""The fixed vocabularies of the product catalog."""

LICENSE_TYPES = ("perpetual", "subscription", "trial", "term", "floating", "usage_based")
DEPLOYMENT_TYPES = ("on_premise", "cloud", "hybrid")
