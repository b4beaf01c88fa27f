"""A1111's `modules.textual_inversion.autocrop`: embeddings are read and used here; training is not part of
this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('crop_image', 'sdwebui.services.legacy.stubs')])
