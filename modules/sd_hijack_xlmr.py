"""A1111's `modules.sd_hijack_xlmr` (Alt-Diffusion): not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[('FrozenXLMREmbedderWithCustomWords', 'sdwebui.services.legacy.hijack')])
