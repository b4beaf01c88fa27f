"""A1111's `modules.deepbooru_model`: no DeepBooru model in this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('DeepDanbooruModel', 'sdwebui.services.legacy.stubs')])
