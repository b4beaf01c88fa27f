"""A1111's `modules.deepbooru`: no DeepBooru model in this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('DeepDanbooru', 'sdwebui.services.legacy.stubs')])
