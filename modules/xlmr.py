"""A1111's `modules.xlmr` (Alt-Diffusion): not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('BertSeriesModelWithTransformation', 'sdwebui.services.legacy.stubs')])
