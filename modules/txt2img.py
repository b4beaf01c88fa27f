"""A1111's `modules.txt2img`: the txt2img UI handlers (`sdwebui.interfaces.ui.generate_inputs`). They
take the txt2img Generate button's inputs in their order, which their signature names once the UI is
built (A1111's names where A1111 has the parameter)."""
from modules._facade import expose

_HANDLERS = 'sdwebui.interfaces.ui.generate_inputs'
expose(__name__, extra=[
       ('txt2img', _HANDLERS),
       ('txt2img_create_processing', _HANDLERS),
       ('txt2img_upscale', 'sdwebui.services.legacy.stubs')])
