"""A1111's `modules.models.sd3.mmdit`: SD3 checkpoints are not supported by this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('MMDiT', 'sdwebui.services.legacy.stubs')])
