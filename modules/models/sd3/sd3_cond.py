"""A1111's `modules.models.sd3.sd3_cond`: SD3 checkpoints are not supported by this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('SD3Cond', 'sdwebui.services.legacy.stubs')])
