"""A1111's `modules.xlmr_m18` (Alt-Diffusion m18): not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('BertSeriesModelWithTransformation', 'sdwebui.services.legacy.stubs')])
