"""A1111's `modules.sd_hijack_clip`: its text-encoder wrappers, which this backend has not
(`sdwebui.services.legacy.hijack`), and `PromptChunk`."""
from modules._facade import expose

expose(__name__, extra=[('PromptChunk', 'sdwebui.services.legacy.hijack'), ('FrozenCLIPEmbedderWithCustomWords', 'sdwebui.services.legacy.hijack'), ('FrozenCLIPEmbedderForSDXLWithCustomWords', 'sdwebui.services.legacy.hijack')])
