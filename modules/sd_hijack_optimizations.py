"""A1111's `modules.sd_hijack_optimizations`: `SdOptimization`, `get_available_vram` ... 
(`sdwebui.services.legacy.hijack`); attention here is PyTorch's scaled_dot_product_attention."""
from modules._facade import expose

expose(__name__, extra=[('SdOptimization', 'sdwebui.services.legacy.hijack'), ('get_available_vram', 'sdwebui.services.legacy.hijack'), ('get_xformers_flash_attention_op', 'sdwebui.services.legacy.hijack'), ('sub_quad_attention', 'sdwebui.services.legacy.hijack'), ('list_optimizers', 'sdwebui.services.legacy.hijack')])
