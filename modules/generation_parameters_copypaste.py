"""A1111's old name for `modules.infotext_utils`: the same module object, as in A1111."""
import sys

from modules import infotext_utils

sys.modules[__name__] = infotext_utils
