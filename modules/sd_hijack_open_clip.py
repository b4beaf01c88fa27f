"""A1111's `modules.sd_hijack_open_clip`: its OpenCLIP wrappers, which this backend has not
(`sdwebui.services.legacy.hijack`)."""
from modules._facade import expose

expose(__name__, extra=[('FrozenOpenCLIPEmbedderWithCustomWords', 'sdwebui.services.legacy.hijack'), ('FrozenOpenCLIPEmbedder2WithCustomWords', 'sdwebui.services.legacy.hijack')])
