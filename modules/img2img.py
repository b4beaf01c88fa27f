"""A1111's `modules.img2img`: the img2img UI handler (`sdwebui.interfaces.ui.generate_inputs`), taking
the img2img Generate button's inputs in their order (`mode` first, as A1111's)."""
from modules._facade import expose

expose(__name__, extra=[
       ('img2img', 'sdwebui.interfaces.ui.generate_inputs'),
       ('process_batch', 'sdwebui.services.legacy.stubs')])
