"""A1111's `modules.infotext_utils` (called `generation_parameters_copypaste` before 1.8; that name is
the same module object, as in A1111): the infotext parser and override-settings helper
(`sdwebui.services.legacy.infotext`) and the send-to bindings extensions register
(`sdwebui.interfaces.ui.paste_bindings`)."""
import sys

from modules._facade import expose

expose(__name__, "sdwebui.services.legacy.infotext", "sdwebui.interfaces.ui.paste_bindings")
sys.modules["modules.generation_parameters_copypaste"] = sys.modules[__name__]
