"""A1111's `modules.lowvram`: `send_everything_to_cpu`, `is_needed` ... (`sdwebui.services.legacy.misc`);
--medvram/--lowvram offloading is the model manager's."""
from modules._facade import expose

expose(__name__, extra=[('send_everything_to_cpu', 'sdwebui.services.legacy.misc'), ('is_needed', 'sdwebui.services.legacy.misc'), ('is_enabled', 'sdwebui.services.legacy.misc'), ('apply', 'sdwebui.services.legacy.misc'), ('setup_for_low_vram', 'sdwebui.services.legacy.misc'), ('module_in_gpu', 'sdwebui.services.legacy.misc')])
