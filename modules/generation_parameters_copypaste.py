"""A1111's old name for modules.infotext_utils, still imported by extensions."""
from modules.infotext_utils import parse_generation_parameters  # noqa: F401
